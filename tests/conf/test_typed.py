"""Typed configs: a misspelt or mistyped field fails while composing, naming the field and the file or the
override, and every file of every typed group starts from its group's schema."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ConfigKeyError

from conftest import CONF, compose_config, compose_run
from rlvr.config import AlgorithmConfig, EvalConfig, ModelConfig, RunConfig, to_run_config

TYPED_GROUPS = ("model", "algorithm", "clip", "data", "eval", "engine", "trainer", "prompt")


@pytest.fixture
def conf(tmp_path) -> Path:
    """A copy of conf/ that a test may add files to."""
    return Path(shutil.copytree(CONF, tmp_path / "conf"))


def compose_from(conf: Path, *overrides: str):
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def test_a_typo_in_a_group_file_names_the_field_and_the_file(conf):
    (conf / "eval" / "typo.yaml").write_text("defaults:\n  - schema\n  - _self_\n\nname: typo\nevery_step: 50\n")
    with pytest.raises(ConfigCompositionException, match=r"In 'eval/typo'.*\n.*Key 'every_step' not in 'EvalConfig'"):
        compose_from(conf, "eval=typo")


def test_a_typo_in_an_experiment_file_names_the_field_and_the_file(conf):
    (conf / "experiment" / "typo.yaml").write_text("# @package _global_\nexperiment_name: typo\neval:\n  every_step: 50\n")
    with pytest.raises(ConfigCompositionException, match=r"In 'experiment/typo'.*\n.*Key 'every_step' not in 'EvalConfig'"):
        compose_from(conf, "experiment=typo")


def test_a_wrongly_typed_value_in_a_file_names_the_field_and_the_file(conf):
    (conf / "model" / "typed.yaml").write_text(
        (conf / "model" / "tiny.yaml").read_text().replace("total_steps: 40", "total_steps: forty")
    )
    with pytest.raises(ConfigCompositionException, match=r"In 'model/typed'.*\n.*'forty'.*Integer.*\n.*trainer.total_steps"):
        compose_from(conf, "model=typed")


def test_typos_and_wrong_types_on_the_command_line_name_the_field():
    with pytest.raises(ConfigCompositionException, match=r"Could not override 'eval.every_step'") as error:
        compose_config("eval.every_step=50")
    assert "Key 'every_step' not in 'EvalConfig'" in str(error.value.__cause__)
    with pytest.raises(ConfigCompositionException, match=r"eval.every_steps=often") as error:
        compose_config("eval.every_steps=often")
    assert "could not be converted to Integer" in str(error.value.__cause__)
    # `+key=value` adds a key Hydra lets through; the typed run (the commands' first step) refuses it
    with pytest.raises(ConfigKeyError, match=r"Key 'every_step' not in 'EvalConfig'\n\s+full_key: eval.every_step"):
        to_run_config(compose_config("+eval.every_step=3"))


@pytest.mark.parametrize("group", TYPED_GROUPS)
def test_every_file_of_a_typed_group_starts_from_its_schema(group):
    """Directly or through the file it extends (dr_grpo -> grpo, paper -> math500, none -> default)."""
    for path in sorted((CONF / group).glob("*.yaml")):
        defaults = (yaml.safe_load(path.read_text()) or {}).get("defaults", [])
        entries = [d for d in defaults if isinstance(d, str)]
        assert any("schema" in d for d in entries) or any((CONF / group / f"{d}.yaml").is_file() for d in entries), path


def test_the_composed_run_is_made_of_the_schemas():
    run = compose_run()
    assert isinstance(run, RunConfig) and isinstance(run.algorithm, AlgorithmConfig)
    assert isinstance(run.eval, EvalConfig) and isinstance(run.model, ModelConfig)
    assert type(run.engine).__name__ == "HFEngineConfig" and type(compose_run("engine=vllm").engine).__name__ == "VLLMEngineConfig"
    assert type(run.data).__name__ == "ArithmeticDataConfig"
    assert type(compose_run("model=qwen2.5_math_7b").data).__name__ == "ProblemSetDataConfig"


def test_every_schema_field_is_documented():
    """Every field of every schema has a docstring right under it, unless it holds a nested schema (a
    ``default_factory``), whose own fields are documented."""
    import ast
    import inspect

    import rlvr.config as config

    modules = {inspect.getmodule(cls) for cls in vars(config).values() if dataclasses.is_dataclass(cls)}
    assert len(modules) >= 5
    undocumented = []
    for module in modules:
        for cls in (node for node in ast.parse(inspect.getsource(module)).body if isinstance(node, ast.ClassDef)):
            for i, stmt in enumerate(cls.body):
                if not isinstance(stmt, ast.AnnAssign):
                    continue
                following = cls.body[i + 1] if i + 1 < len(cls.body) else None
                documented = isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
                nested = stmt.value is not None and "default_factory" in ast.unparse(stmt.value)
                if not (documented or nested):
                    undocumented.append(f"{module.__name__}.{cls.name}.{stmt.target.id}")
    assert not undocumented, undocumented
