"""Shared fixtures: composed configs and the (cached) warm-started tiny model.

The tiny model is built from the default config exactly as ``python -m rlvr.train`` builds it, in the same
cache (``$RLVR_CACHE`` or ``~/.cache/rlvr``), so the suite warm-starts it at most once per machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

import rlvr  # noqa: F401  (registers the config resolvers and schemas before any compose)
from rlvr.config import RunConfig, to_run_config

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"
# The real data files (../shared/data here; CI sets RLVR_DATA). Read in place, never copied.
DATA_DIR = Path(os.environ.get("RLVR_DATA", REPO.parent / "shared" / "data"))
# The rewards that grade against the data's answer, plain and inside a compound ("ground truth, no Python"):
# a rule of ground truth must hold in both. For pytest.mark.parametrize("spec", ...).
GROUND_TRUTH_SPECS = pytest.param({"name": "ground_truth"}, id="ground_truth"), pytest.param(
    {"name": "all_of", "rewards": [{"name": "ground_truth"}, {"name": "inverse", "reward": {"name": "python"}}]},
    id="ground_truth_no_python",
)
os.environ.setdefault("RLVR_DATA", str(DATA_DIR))
os.environ.setdefault("DS_ACCELERATOR", "cpu")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class CharTokenizer:
    """One token per character (its code point): enough for engines and prompts in unit tests."""

    def encode(self, text, add_special_tokens=True):
        return [ord(c) for c in text]

    def decode(self, ids, skip_special_tokens=False):
        return "".join(map(chr, ids))


class ScriptedEngine:
    """A rollout engine that answers each prompt (looked up by its text) with fixed responses, the first
    ``params.n`` of them, and records the sampling parameters of every call. A response is a text
    ("stop") or a (text, finish_reason) pair; its tokens are its characters."""

    def __init__(self, tokenizer, responses):
        self.tokenizer, self.responses = tokenizer, responses
        self.calls = []
        self.prompts = []

    def generate(self, prompts, params):
        from rlvr.rollout import Completion

        self.calls.append(params)
        texts = [self.tokenizer.decode(p) for p in prompts]
        self.prompts += texts
        groups = []
        for text in texts:
            scripted = [(r, "stop") if isinstance(r, str) else r for r in self.responses[text][: params.n]]
            groups.append([Completion(tuple(map(ord, r)), r, reason) for r, reason in scripted])
        return groups


def compose_config(*overrides: str) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides), return_hydra_config=False)


def compose_run(*overrides: str) -> RunConfig:
    """The typed run config, as the commands hand it to the library."""
    return to_run_config(compose_config(*overrides))


@pytest.fixture(scope="session")
def default_cfg() -> DictConfig:
    return compose_config()


@pytest.fixture(scope="session")
def tiny_path(default_cfg) -> Path:
    from rlvr.models import resolve_model_path

    return Path(resolve_model_path(to_run_config(default_cfg).model, default_cfg.paths.cache_dir))


@pytest.fixture(scope="session")
def tiny(tiny_path):
    """(model, tokenizer) of the warm-started tiny model, loaded fresh for each test that wants it."""
    from rlvr.models import load_causal_lm, load_tokenizer

    return load_causal_lm(str(tiny_path)), load_tokenizer(str(tiny_path))


def run_module(args: list[str], *, cwd: Path = REPO, timeout: int = 600, env: dict | None = None, check: bool = True):
    """Run ``python -m ...`` (or torchrun) as a user would, with output captured for the assertion message."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    result = subprocess.run(args, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}")
    return result


@pytest.fixture
def train_cmd(tmp_path):
    """``python -m rlvr.train`` with outputs under tmp_path; returns (command prefix, output root)."""
    return [sys.executable, "-m", "rlvr.train", f"paths.output_root={tmp_path}"], tmp_path


WORLD_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@pytest.fixture(scope="session")
def _world_of_one():
    """One process group for every test that trains in-process: DeepSpeed keeps the process groups it first
    saw, so a second world in the same process would hand it destroyed ones. Returns the group and the
    environment variables that describe it, which are removed from the environment again at once, so that
    no subprocess a later test starts (``python -m rlvr.train`` would join this world) inherits them."""
    import torch

    from rlvr.train import distributed as D

    saved = {key: os.environ.pop(key) for key in WORLD_VARIABLES if key in os.environ}
    dist = D.setup_distributed("cpu")  # sets the variables of a world of one
    variables = {key: os.environ.pop(key) for key in WORLD_VARIABLES if key in os.environ}
    os.environ.update(saved)
    yield dist, variables
    torch.distributed.destroy_process_group()


@pytest.fixture
def world(_world_of_one, monkeypatch):
    """The in-process world of one, with its environment variables set for the test (DeepSpeed's ZeRO-3
    model loading reads ``LOCAL_RANK``)."""
    dist, variables = _world_of_one
    for key, value in variables.items():
        monkeypatch.setenv(key, value)
    return dist
