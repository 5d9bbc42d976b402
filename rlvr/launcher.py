"""Sending a sweep to SLURM: hydra-submitit-launcher's launcher, with what a distributed, preemptible run needs.

Selected by ``hydra/launcher=slurm`` (GPU clusters) or ``slurm_cpu`` (CPU nodes). Compared with the plugin's
own launcher it:

- gives each run the job shape its model asks for (``resources.gpus`` GPUs, one task per GPU, on as many
  nodes as ``max_gpus_per_node`` requires); runs of different shapes go out as separate job arrays, all
  submitted before any is waited for;
- fixes the sweep directory before submitting, so that a requeued job writes into the same run directory
  (and resumes there) instead of a new timestamped one;
- in every task, exports ``torch.distributed``'s variables from SLURM's (``submitit.helpers``), so each task
  is one rank;
- makes a job whose run failed fail (Hydra's ``run_job`` swallows the exception), so SLURM and the sweep
  both say FAILED; with ``srun --kill-on-bad-exit`` the other ranks are stopped, not left waiting;
- records each attempt of each job in ``<sweep dir>/.jobs/<job num>.json`` (job id, overrides), which
  ``python -m rlvr.sweeps`` reads to show jobs that failed before their run directory had anything in it.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import BaseSubmititLauncher
from omegaconf import OmegaConf, open_dict

log = logging.getLogger(__name__)

# Our keys in the launcher config: they decide the job shape and are not submitit parameters.
SHAPE_KEYS = ("tasks_from_resources", "max_gpus_per_node")


def job_shape(params: Mapping[str, Any], command: str, gpus: int) -> dict[str, Any]:
    """The submitit parameters that depend on the run: a training run of ``gpus`` GPUs gets one task per
    GPU (``tasks_from_resources``), on ``ceil(gpus / max_gpus_per_node)`` nodes; an evaluation one GPU.

    >>> job_shape({"tasks_from_resources": True, "max_gpus_per_node": 8}, "train", 8)
    {'nodes': 1, 'gpus_per_node': 8, 'tasks_per_node': 8}
    >>> job_shape({"tasks_from_resources": True, "max_gpus_per_node": 4}, "train", 8)
    {'nodes': 2, 'gpus_per_node': 4, 'tasks_per_node': 4}
    >>> job_shape({"tasks_from_resources": False, "tasks_per_node": 2}, "train", 0)
    {'nodes': 1, 'tasks_per_node': 2}
    """
    if not params.get("tasks_from_resources"):
        return {"nodes": params.get("nodes", 1), "tasks_per_node": params.get("tasks_per_node", 1)}
    gpus = max(gpus, 1) if command == "train" else 1  # an evaluation runs on one GPU
    nodes = math.ceil(gpus / params["max_gpus_per_node"])
    if gpus % nodes:
        raise ValueError(f"a run of {gpus} GPUs cannot be split evenly over {nodes} nodes of at most "
                         f"{params['max_gpus_per_node']} GPUs (hydra.launcher.max_gpus_per_node)")  # fmt: skip
    return {"nodes": nodes, "gpus_per_node": gpus // nodes, "tasks_per_node": gpus // nodes}


def describe_shape(params: Mapping[str, Any], shape: Mapping[str, Any]) -> str:
    """One line of sbatch resources, for ``python -m rlvr.plan ... hydra/launcher=slurm``.

    >>> describe_shape({"timeout_min": 1440, "cpus_per_gpu": 8, "mem_per_gpu": "64G"},
    ...                {"nodes": 1, "gpus_per_node": 8, "tasks_per_node": 8})
    'nodes=1 gpus/node=8 tasks/node=8 cpus/gpu=8 mem/gpu=64G time=1440min'
    """
    parts = [f"nodes={shape['nodes']}"]
    if shape.get("gpus_per_node"):
        parts.append(f"gpus/node={shape['gpus_per_node']}")
    parts.append(f"tasks/node={shape['tasks_per_node']}")
    names = {"cpus_per_gpu": "cpus/gpu", "cpus_per_task": "cpus/task", "mem_per_gpu": "mem/gpu", "mem_gb": "mem(GB)"}
    parts += [f"{label}={params[key]}" for key, label in names.items() if params.get(key) is not None]
    return " ".join(parts + [f"time={params.get('timeout_min')}min"])


class SlurmLauncher(BaseSubmititLauncher):
    _EXECUTOR = "slurm"

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        import submitit

        assert self.config is not None and self.hydra_context is not None
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        with open_dict(self.config):
            self.config.hydra.sweep.dir = str(sweep_dir)  # fixed: a requeued job must find its run directory
        sweep_dir.mkdir(parents=True, exist_ok=True)
        groups: dict[str, list[tuple[int, list[str]]]] = {}
        shapes: dict[str, dict[str, Any]] = {}
        for number, overrides in enumerate(job_overrides, start=initial_job_idx):
            run = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            shape = job_shape(self.params, str(run.get("command", "train")), int(run.resources.gpus))
            key = json.dumps(shape, sort_keys=True)
            shapes[key] = shape
            groups.setdefault(key, []).append((number, list(overrides)))
        submitted = []
        for key, jobs in groups.items():
            executor = self._executor(shapes[key])
            log.info(f"submitting {len(jobs)} job(s) of shape {describe_shape(self.params, shapes[key])} to {sweep_dir}")
            for number, overrides in jobs:
                log.info(f"\t#{number} : {' '.join(filter_overrides(overrides))}")
            args = [(overrides, "hydra.sweep.dir", number, f"job_id_for_{number}", Singleton.get_state())
                    for number, overrides in jobs]  # fmt: skip
            submitted += zip(jobs, executor.map_array(self, *zip(*args)))
        by_number = {number: _result(job, overrides) for (number, overrides), job in submitted}
        return [by_number[number] for number in sorted(by_number)]

    def _executor(self, shape: Mapping[str, Any]):
        import submitit

        params = {k: v for k, v in self.params.items() if k not in SHAPE_KEYS} | dict(shape)
        executor = submitit.AutoExecutor(
            folder=params.pop("submitit_folder"), cluster="slurm", slurm_max_num_timeout=params.pop("max_num_timeout")
        )
        base = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(**{k if k in base else f"slurm_{k}": v for k, v in params.items()})
        return executor

    def __call__(self, sweep_overrides, job_dir_key, job_num, job_id, singleton_state) -> JobReturn:
        """One task of a job: a rank of the run. Its failure fails the job."""
        import submitit

        environment = submitit.JobEnvironment()
        if environment.num_tasks > 1:  # torch.distributed from SLURM's variables; every rank sees every GPU
            submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False, overwrite=True)
        if environment.global_rank == 0:
            record = {"job_num": job_num, "job_id": environment.job_id, "overrides": list(sweep_overrides)}
            jobs = Path(str(self.config.hydra.sweep.dir)) / ".jobs"
            jobs.mkdir(parents=True, exist_ok=True)
            (jobs / f"{job_num}.json").write_text(json.dumps(record) + "\n")
        result = super().__call__(sweep_overrides, job_dir_key, job_num, job_id, singleton_state)
        if result.status == JobStatus.FAILED:
            raise result._return_value  # the job fails, and srun --kill-on-bad-exit stops the other ranks
        return result


def _result(job, overrides: list[str]) -> JobReturn:
    """A job's outcome for Hydra's sweeper, which raises for failed ones once all are in."""
    try:
        return job.results()[0]
    except Exception as error:  # the job failed: its exception, or submitit's account of it
        return JobReturn(overrides=overrides, status=JobStatus.FAILED, _return_value=error)
