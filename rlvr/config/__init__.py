"""Typed configuration: one dataclass schema per config group, registered in Hydra's ConfigStore.

``conf/config.yaml`` starts from ``run_schema`` (``RunConfig``) and every file of a typed group starts
from its group's schema (``defaults: [schema, _self_]``), so a misspelt or wrongly typed field fails
while Hydra composes, naming the field and the file, whether it is in a YAML file or on the command line.
Commands turn the composed config into these dataclasses at once (``to_run_config``); library code only
ever receives typed objects.

Polymorphic groups have one schema per kind (``engine``: ``hf_schema``, ``vllm_schema``; ``data``:
``arithmetic_schema``, ``problem_set_schema``). ``reward`` and ``relabel`` stay untyped here: a reward's
parameters are checked against its function's signature when it is built (``rlvr.rewards.build_reward``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError

from rlvr.config.algorithm import AdvantageConfig, AlgorithmConfig, ClipConfig, KLConfig
from rlvr.config.data import (
    ArithmeticDataConfig,
    DataConfig,
    LabelConfig,
    OneShotExample,
    ProblemSetDataConfig,
    SourceSpec,
)
from rlvr.config.engine import EngineConfig, HFEngineConfig, TrainerConfig, VLLMEngineConfig
from rlvr.config.evaluation import BenchmarkConfig, EvalConfig
from rlvr.config.logger import LoggerConfig
from rlvr.config.model import (
    ArithmeticSpec,
    ModelConfig,
    PromptConfig,
    PromptFormat,
    ResourcesConfig,
    TinyArch,
    TinySpec,
    WarmupConfig,
)

__all__ = [
    "AdvantageConfig", "AlgorithmConfig", "ArithmeticDataConfig", "ArithmeticSpec", "BenchmarkConfig",
    "ClipConfig", "DataConfig", "EngineConfig", "EvalConfig", "HFEngineConfig", "KLConfig", "LabelConfig", "LoggerConfig",
    "ModelConfig", "OneShotExample", "PathsConfig", "ProblemSetDataConfig", "PromptConfig", "PromptFormat",
    "ResourcesConfig", "RunConfig", "SourceSpec", "TinyArch", "TinySpec", "TrainerConfig", "VLLMEngineConfig",
    "WarmupConfig", "WarmupConfig", "register_schemas", "to_run_config", "to_yaml",
]  # fmt: skip


@dataclass
class PathsConfig:
    """Where things are read and written. Environment variables set them without an override."""

    cache_dir: str = "${oc.env:RLVR_CACHE,${oc.env:HOME}/.cache/rlvr}"
    """The tiny model's warm-start and other built artefacts; shared by runs, safe to delete."""
    output_root: str = "${oc.env:RLVR_OUTPUTS,outputs}"
    """Run directories (``runs/``, ``multirun/``), evaluations (``evals/``) and labels go below it."""
    data_root: str = "${oc.env:RLVR_DATA,data}"
    """Local data files, in the layout of the paper's repository: ``train/``, ``eval/``, ``mv_labels/``."""
    labels_dir: str = "${paths.data_root}/mv_labels"
    """Majority-vote label files, ``<model.label_name>.json``: the paper's own or ``rlvr.label``'s."""


@dataclass
class RunConfig:
    """One run: an option of each group plus the run keys of ``conf/config.yaml``."""

    seed: int = MISSING
    """Every random stream of the run (rollouts, shuffles, rewards, evaluation) derives from it."""
    name: str = MISSING
    """Run name: ``<model>_<reward label>_<clip>``; run directories end with it."""
    command: str = MISSING
    """What runs this config: ``train`` (``python -m rlvr.train``) or ``evaluate`` (Table 3)."""
    experiment_name: Optional[str] = None
    """Set by ``conf/experiment/<figure>.yaml``; analysis groups runs by it."""
    control_name: Optional[str] = None
    """Set by ``conf/control/<name>.yaml`` (``experiment=controls``): which spurious-reward control the run is."""
    checkpoint: Optional[str] = None
    """``python -m rlvr.evaluate checkpoint=<run dir>/checkpoints/step_<n>``: evaluate those weights
    (``model=`` must name the model the run started from)."""
    checkpoints: Optional[str] = None
    """``python -m rlvr.evaluate checkpoints=<run dir or multirun dir>``: evaluate every saved checkpoint of
    every run under it that has not been evaluated yet."""
    verbose: bool = False
    """Show third-party output (DeepSpeed's op builds, transformers' progress bars, library INFO logs) on the
    console too; it always goes to the run's log file (``rlvr.logs``)."""
    relabel: Optional[Any] = None
    """What the reward's labels are. null: the data's true answers. ``reward=majority_vote`` /
    ``incorrect`` / ``one_shot`` set a ``_partial_`` function of the data's ``ProblemSet`` here
    (``rlvr.data.relabel``); held-out problems keep their true answers."""
    one_shot_example: OneShotExample = field(default_factory=OneShotExample)
    label: LabelConfig = field(default_factory=LabelConfig)
    resources: ResourcesConfig = field(default_factory=ResourcesConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    data: DataConfig = MISSING
    """The ``data`` group: problems to train on and held-out problems."""
    reward: Any = MISSING
    """``{_target_: rlvr.rewards.build_reward, name, label, **params}``: the registered reward ``name``
    with its parameters, checked against the function's signature when built."""
    algorithm: AlgorithmConfig = MISSING
    """The ``algorithm`` group: GRPO's batch shape, advantage, loss aggregation and optimizer."""
    trainer: TrainerConfig = MISSING
    """The ``trainer`` group: DeepSpeed, steps and checkpoints."""
    engine: EngineConfig = MISSING
    """The ``engine`` group: what samples the rollouts."""
    eval: EvalConfig = MISSING
    """The ``eval`` group: benchmarks, during training and for ``python -m rlvr.evaluate``."""
    prompt: PromptConfig = MISSING
    """The ``prompt`` group: changes to the model's own prompt format."""
    model: ModelConfig = MISSING
    """The ``model`` group: weights, prompt format; it may resize the run (``model=tiny``)."""
    clip: ClipConfig = MISSING
    """The ``clip`` group: the per-token objective and its clip range."""
    logger: LoggerConfig = MISSING
    """The ``logger`` group: ``none``, ``wandb`` or ``tensorboard``, besides ``metrics.jsonl``."""


_SCHEMAS = {
    (None, "run_schema"): RunConfig,
    ("model", "schema"): ModelConfig,
    ("algorithm", "schema"): AlgorithmConfig,
    ("clip", "schema"): ClipConfig,
    ("data", "arithmetic_schema"): ArithmeticDataConfig,
    ("data", "problem_set_schema"): ProblemSetDataConfig,
    ("eval", "schema"): EvalConfig,
    ("engine", "hf_schema"): HFEngineConfig,
    ("engine", "vllm_schema"): VLLMEngineConfig,
    ("trainer", "schema"): TrainerConfig,
    ("prompt", "schema"): PromptConfig,
    ("logger", "schema"): LoggerConfig,
}


def _launcher_schemas() -> dict:
    """Our SLURM profiles' schema, when hydra-submitit-launcher is installed (it is: requirements.txt)."""
    try:
        from rlvr.config.launcher import RLVRSlurmConf
    except ImportError:  # pragma: no cover
        return {}
    return {("hydra/launcher", "rlvr_slurm_schema"): RLVRSlurmConf}


def register_schemas() -> None:
    """Store every schema in Hydra's ConfigStore (idempotent: storing again replaces the entry)."""
    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    for (group, name), node in (_SCHEMAS | _launcher_schemas()).items():
        store.store(group=group, name=name, node=node)


def to_run_config(cfg: DictConfig | RunConfig) -> RunConfig:
    """The typed run from a composed config (Hydra's ``hydra`` node, if present, is left out). Resolves
    every interpolation; a missing mandatory value, a wrong type or a key that no schema declares (Hydra
    lets ``+key=value`` add one) fails here, naming the key."""
    if isinstance(cfg, RunConfig):
        return cfg
    plain = {key: value for key, value in cfg.items_ex(resolve=False) if key != "hydra"}
    typed = OmegaConf.merge(OmegaConf.structured(RunConfig), plain)
    _refuse_undeclared_keys(typed)
    return OmegaConf.to_object(typed)


def _refuse_undeclared_keys(node: Any, path: str = "") -> None:
    """Raise ``ConfigKeyError`` for a key of a schema-typed node that its dataclass does not declare
    (no schema holds a list of schemas, so lists need no visit)."""
    if not isinstance(node, DictConfig) or node._is_none() or node._is_missing() or node._is_interpolation():
        return
    schema = OmegaConf.get_type(node)
    declared = {f.name for f in dataclasses.fields(schema)} if dataclasses.is_dataclass(schema) else None
    for key in node.keys():
        if declared is not None and key not in declared:
            raise ConfigKeyError(f"Key '{key}' not in '{schema.__name__}'\n    full_key: {path}{key}")
        _refuse_undeclared_keys(node._get_node(key), f"{path}{key}.")


def to_yaml(obj: Any) -> str:
    """A typed config (or any part of it) as resolved YAML: what a run directory's ``config.yaml`` holds."""
    return OmegaConf.to_yaml(OmegaConf.structured(obj) if not isinstance(obj, DictConfig) else obj, resolve=True)
