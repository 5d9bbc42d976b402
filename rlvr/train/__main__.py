"""``python -m rlvr.train``: compose a run from ``conf/`` with Hydra and train it.

    python -m rlvr.train                                   # the tiny CPU default
    python -m rlvr.train reward=random reward.gamma=0.3     # any field can be overridden
    python -m rlvr.train -m reward=ground_truth,random      # a local multirun sweep
    python -m rlvr.train -m experiment=fig1 hydra/launcher=slurm   # a figure's sweep on a SLURM cluster
    torchrun --nproc_per_node 2 -m rlvr.train              # two processes share the rollouts

Started again in its run directory (a SLURM requeue, or the same command with the same ``hydra.run.dir``),
a run continues from its latest checkpoint (``trainer.resume``); a finished one returns at once.
"""

from __future__ import annotations

import logging
import os
import shutil
import warnings
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

log = logging.getLogger("rlvr.train")


def prepare_environment() -> None:
    """What every training process needs before DeepSpeed is imported. Called by the task itself, not at
    import time: jobs that submitit starts never run this module's top level."""
    import torch

    # DeepSpeed picks its accelerator when first imported; without a GPU it must be told to use the CPU.
    if not torch.cuda.is_available():
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
    # DeepSpeed 0.19 still calls collectives that torch 2.13 marks deprecated, once per micro-batch.
    warnings.filterwarnings("ignore", message=r"`torch\.distributed\.\w+` is deprecated", category=FutureWarning)


def run(cfg: DictConfig) -> dict[str, float]:
    prepare_environment()
    from rlvr.build import build_training
    from rlvr.config import to_run_config, to_yaml
    from rlvr.logs import quiet_console, third_party_output_to_log
    from rlvr.plan import check_command
    from rlvr.train import distributed as D
    from rlvr.train.loop import GRPOTrainer
    from rlvr.train.plan import plan_step
    from rlvr.train.preemption import Preempted, PreemptionSignal
    from rlvr.train.resume import exclusive, finished, resume_point, trim_to

    config = to_run_config(cfg)
    check_command(config, running="train")
    plan = plan_step(config, D.world_size_from_env())  # bad batch arithmetic fails before any model loads
    quiet_console(config.verbose)
    with third_party_output_to_log(config.verbose):  # the first run on a machine compiles DeepSpeed's comm op
        dist = D.setup_distributed(D.choose_device(config.trainer.device))
    run_path = _shared_run_dir(D)
    with exclusive(run_path, hold=dist.is_main):  # refuses a run directory another process still runs
        resume_from = resume_point(run_path, to_yaml(config), dist.world_size, config.trainer.resume)
        done = finished(run_path)
        if done is not None:  # e.g. requeued after it finished
            log.info("%s finished at step %d (%s): nothing to do", run_path, done["step"], done["end_time"])
            return done["metrics"]
        if dist.is_main:
            trim_to(run_path, resume_from)  # before anything is written: no row lost or written twice
        D.barrier()
        trainer = GRPOTrainer(build_training(config, plan, dist, run_path, resume_from=resume_from))
        preemption = PreemptionSignal()
        try:
            return trainer.train(preemption)
        except Preempted:
            preemption.hand_over()  # under submitit: requeue, and rank 0 exits here
            if callable(preemption.previous):
                raise SystemExit(0) from None  # the other ranks of a requeued job
            raise
        finally:
            preemption.restore()
            trainer.run.close()
            del trainer  # free the DeepSpeed engine before the next job of a local multirun


def _shared_run_dir(D) -> Path:
    """Rank 0's Hydra output dir, for every rank (their ``${now:}`` timestamps can differ by a second)."""
    mine = Path(HydraConfig.get().runtime.output_dir)
    shared = Path(D.broadcast_from_main(str(mine)))
    if mine != shared:
        from rlvr.logs import move_log_files

        move_log_files(mine, shared)  # this rank logs where rank 0 does, as when their timestamps agree
        if not any(p.name not in {".hydra", "train.log"} for p in mine.iterdir()):
            shutil.rmtree(mine, ignore_errors=True)  # an empty twin made by Hydra on a non-zero rank
    return shared


@hydra.main(version_base="1.3", config_path="../../conf", config_name="config")
def main(cfg: DictConfig) -> float:
    metrics = run(cfg)
    # The value a Hydra sweeper would optimise: the final accuracy on the first benchmark of the eval config.
    first = next(iter(cfg.eval.benchmarks), None)
    return metrics.get(f"eval/{first}/accuracy", float("nan"))


if __name__ == "__main__":
    main()
