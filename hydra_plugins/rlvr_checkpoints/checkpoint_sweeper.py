"""The sweeper of ``python -m rlvr.evaluate -m``: Hydra's basic sweeper, plus ``checkpoints=<dir>``.

Without ``checkpoints=`` it is the basic sweeper (``experiment=table3``: its ``hydra.sweeper.params`` and
the command line's sweeps). With it, each point of the other overrides' sweep becomes one job per checkpoint
under the folder that is not evaluated yet with that point's eval config and prompt
(``rlvr.evaluate.sweeper.checkpoint_jobs``): the point's overrides, ``model=<the run's model>``,
``checkpoint=<run dir>/checkpoints/step_<n>`` and ``hydra.sweep.subdir=<run dir>/evals/<eval>_<prompt>/step_<n>``
(an absolute subdir: the job writes into the run directory, whatever the launcher). The launcher runs them
as usual: locally, or as one SLURM job array with ``hydra/launcher=<cluster>``.

rlvr is imported only when ``checkpoints=`` is given: Hydra imports this module in every app it starts.
"""

from __future__ import annotations

import logging
from typing import Any, List, Optional

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.types import Override

log = logging.getLogger(__name__)


class CheckpointSweeper(BasicSweeper):
    def split_arguments(self, overrides: List[Override], max_batch_size: Optional[int]) -> List[List[List[str]]]:  # type: ignore[override]
        """The jobs, in batches (BasicSweeper.sweep calls this on the instance)."""
        if not any(o.key_or_group == "checkpoints" for o in overrides):
            return BasicSweeper.split_arguments(overrides, max_batch_size)
        from rlvr.evaluate.sweeper import checkpoint_jobs, override, split_checkpoints

        roots, rest = split_checkpoints([o.input_line for o in overrides])
        points = BasicSweeper.split_arguments(self._parse(rest), None)[0]
        jobs, done = [], 0
        for point in points:
            for job in checkpoint_jobs(roots, point, self._compose):
                if job.done:
                    done += 1
                else:
                    jobs.append([*job.overrides, override("hydra.sweep.subdir", job.out_dir)])
        log.info(f"checkpoints={','.join(roots)}: {len(jobs)} evaluations to run, {done} done before")
        return list(self.split_overrides_to_chunks(jobs, max_batch_size)) if jobs else []

    def _parse(self, lines: List[str]) -> List[Override]:
        from hydra.core.override_parser.overrides_parser import OverridesParser

        return OverridesParser.create(config_loader=self.hydra_context.config_loader).parse_overrides(lines)

    def _compose(self, overrides: List[str]) -> Any:
        return self.hydra_context.config_loader.load_sweep_config(self.config, overrides)
