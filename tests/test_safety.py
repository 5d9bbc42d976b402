"""Nothing a run reads runs code: no model's remote code unless its config asks for it, no model output
executed, no module that unpickles or evaluates text (checkpoints: tests/train/test_safe_loading.py)."""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace

import pytest
import transformers
from hydra.errors import InstantiationException

from conftest import CONF, REPO, compose_run
from rlvr.build import build_rollout
from rlvr.train.policy import init_policy

MODELS = sorted(f.stem for f in (CONF / "model").glob("*.yaml"))


class Loaded(Exception):
    """Raised by the recording stand-in for the model's ``from_pretrained``: nothing is really loaded."""


@pytest.fixture
def recorded(monkeypatch) -> list[tuple[str, object]]:
    """(what, trust_remote_code) of every transformers load; the tokenizer is a stand-in, a model load stops."""
    calls = []

    def tokenizer(path, **kwargs):
        calls.append(("tokenizer", kwargs.get("trust_remote_code")))
        return SimpleNamespace(pad_token_id=0, eos_token_id=1)

    def model(path, **kwargs):
        calls.append(("model", kwargs.get("trust_remote_code")))
        raise Loaded

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", tokenizer)
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", model)
    return calls


@pytest.mark.parametrize("model", MODELS)
def test_no_model_config_trusts_remote_code(model):
    assert compose_run(f"model={model}").model.trust_remote_code is False


@pytest.mark.parametrize("trust", [False, True])
def test_the_model_configs_setting_reaches_every_load(recorded, trust):
    cfg = compose_run("model=qwen2.5_math_7b", f"model.trust_remote_code={str(trust).lower()}", "engine=hf")
    with pytest.raises((Loaded, InstantiationException)):  # Hydra wraps what the engine's constructor raised
        build_rollout(cfg, "some/model", "cpu")  # the tokenizer, then the rollout engine's copy of the model
    with pytest.raises(Loaded):
        init_policy("some/model", cfg.model, cfg.algorithm, cfg.trainer, world_size=1)  # the trained policy
    assert recorded == [("tokenizer", trust), ("model", trust), ("model", trust)]


LIBRARY = sorted((REPO / "rlvr").rglob("*.py")) + sorted((REPO / "analysis").rglob("*.py"))
# Modules that start processes, and why: none of them hands them text a model wrote.
SUBPROCESS_USERS = {"rlvr/outputs.py": "git commit of the run", "rlvr/sweeps.py": "launches sweep jobs"}


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: str(p.relative_to(REPO)))
def test_no_module_evaluates_text_or_unpickles(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in {"eval", "exec", "compile", "__import__"}, f"line {node.lineno}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "load":
            # torch.load / np.load: only with weights_only=True / without allow_pickle
            keywords = {k.arg: k.value for k in node.keywords}
            if "weights_only" in keywords:
                assert ast.literal_eval(keywords["weights_only"]) is True, f"line {node.lineno}"
            assert "allow_pickle" not in keywords, f"line {node.lineno}"
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = {alias.name for alias in node.names} | {getattr(node, "module", None) or ""}
            roots = {m.split(".")[0] for m in modules}
            assert not roots & {"pickle", "marshal", "shelve", "dill", "cloudpickle"}, f"line {node.lineno}"
            if "subprocess" in roots:
                assert str(path.relative_to(REPO)) in SUBPROCESS_USERS, f"line {node.lineno}"
        if isinstance(node, ast.Call):
            assert ast.unparse(node.func) not in {"os.system", "os.popen", "pd.read_pickle"}, f"line {node.lineno}"


def test_every_torch_load_says_weights_only():
    """torch.load without weights_only takes torch's default, which older versions set to unpickle anything."""
    for path in LIBRARY:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "torch.load":
                assert any(k.arg == "weights_only" for k in node.keywords), f"{path}:{node.lineno}"


def test_the_python_reward_reads_code_and_never_runs_it(tmp_path):
    from rlvr.rewards import build_reward

    marker = tmp_path / "ran"
    code = f"```python\nimport pathlib\npathlib.Path({str(marker)!r}).touch()\nprint(5)\n```\n```output\n5\n```"
    assert build_reward("python")([code], ["5"]) == [1.0] and build_reward("python", code_fence=True)([code], ["5"]) == [1.0]
    assert build_reward("ground_truth")([code + r" so \boxed{5}"], ["5"]) == [1.0]
    assert not marker.exists()
