"""One process of test_nonfinite's two-rank check, started by torchrun: the trainer of test_update on a
rollout shared by two ranks, where only rank 1's first micro-batch has a NaN loss. Writes what this rank saw
to ``<out>/rank_<r>.json``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "tests" / "train")]

import torch  # noqa: E402

import conftest  # noqa: E402, F401  (the environment the tests set)
import rlvr.train.loop as loop  # noqa: E402
from rlvr.train import distributed as D  # noqa: E402
from test_nonfinite import record_boundary_steps, same  # noqa: E402
from test_update import save_small_model, trainer_for  # noqa: E402


def main(out: Path) -> None:
    dist = D.setup_distributed("cpu")
    model_dir = out / "model"
    if dist.is_main:
        save_small_model(model_dir)
    D.barrier()
    trainer = trainer_for(dist, model_dir, out / f"run_{dist.rank}", mini_batch_size=8, lr=1e-2)
    original, calls = loop.policy_loss, [0]

    def nan_on_rank_1(*args, **kwargs):
        loss, stats = original(*args, **kwargs)
        calls[0] += 1
        return (loss * float("nan") if dist.rank == 1 and calls[0] == 1 else loss), stats

    loop.policy_loss = nan_on_rank_1
    steps = record_boundary_steps(trainer)
    metrics = trainer.step(1)
    result = {
        "unchanged": [same(*s) for s in steps],
        "skipped_steps": trainer.policy.skipped_steps,
        "skipped_frac": metrics["actor/skipped_frac"],
        "finite": all(bool(torch.isfinite(t).all()) for t in steps[-1][1][0].values()),
    }
    (out / f"rank_{dist.rank}.json").write_text(json.dumps(result))
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
