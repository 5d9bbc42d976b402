"""Checkpoints are loaded without unpickling arbitrary objects: a file planted in a run directory (our random
states, DeepSpeed's optimizer partitions) that would run code when unpickled is refused, and runs nothing.
The set-up is test_update's trainer: one step, then a checkpoint of it, loaded back into the same policy."""

from __future__ import annotations

import pickle
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from rlvr.train import checkpoint
from test_update import model_dir, trainer_for  # noqa: F401  (a fixture)


class PlantedCode:
    """Unpickled, it would create ``marker``: what a malicious checkpoint file does with ``os.system``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def save_one_step(world, model_dir, tmp_path, zero_stage: int):  # noqa: F811
    trainer = trainer_for(world, model_dir, tmp_path / "run", mini_batch_size=16, single_process_zero_stage=zero_stage)
    trainer.step(1)
    trainer.save_checkpoint(1)
    return trainer, tmp_path / "run", tmp_path / "run" / "checkpoints" / "step_1"


@pytest.fixture
def saved(world, model_dir, tmp_path):  # noqa: F811
    return save_one_step(world, model_dir, tmp_path, 3)


@pytest.mark.parametrize("zero_stage", [1, 3])  # ZeRO-1's optimizer files hold other DeepSpeed objects than ZeRO-3's
def test_a_checkpoint_loads_back_with_its_random_states(world, model_dir, tmp_path, zero_stage):  # noqa: F811
    trainer, run, _ = save_one_step(world, model_dir, tmp_path, zero_stage)
    random.seed(5), np.random.seed(5), torch.manual_seed(5)  # noqa: B018  (states other than the saved ones)
    checkpoint.load(trainer.policy, run, 1)
    after_load = (random.random(), np.random.random(), torch.rand(1).item())
    checkpoint.load(trainer.policy, run, 1)
    assert (random.random(), np.random.random(), torch.rand(1).item()) == after_load  # the same states both times


@pytest.mark.parametrize(
    "planted", ["rng/rank_0.pt", "deepspeed/state/zero_pp_rank_0_mp_rank_00_optim_states.pt",
                "deepspeed/state/zero_pp_rank_0_mp_rank_00_model_states.pt"],
)  # fmt: skip
def test_a_planted_pickle_is_refused_and_runs_nothing(saved, tmp_path, planted):
    trainer, run, directory = saved
    marker = tmp_path / "code_ran"
    torch.save({"torch": torch.get_rng_state(), "payload": PlantedCode(marker)}, directory / planted)
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        checkpoint.load(trainer.policy, run, 1)
    assert not marker.exists()
    # and the planted file is what would have run code, had it been unpickled as DeepSpeed does by default
    torch.load(directory / planted, weights_only=False)
    assert marker.exists()


def test_deepspeeds_own_loader_is_restored_after_a_load(saved):
    trainer, run, _ = saved
    checkpoint.load(trainer.policy, run, 1)
    assert "load" not in vars(trainer.policy.checkpoint_engine)  # the method of its class again
