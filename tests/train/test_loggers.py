"""Metric loggers: each sink holds every step once, also after a run resumed from a checkpoint.

The "killed attempt" below logs steps 0..3 although its last checkpoint is step 2; the resumed attempt
(``resume_step=2``) logs 3..5 again with other values, as a resumed run would. What each sink recorded is
read back from the files it wrote.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import pytest

from rlvr.config import LoggerConfig
from rlvr.train.loggers import LOGGER_STATE_FILE, WANDB_ID_FILE, build_logger

RUN_NAME = "tiny_ground_truth_standard"
CONFIG = {
    "seed": 0,
    "name": RUN_NAME,
    "model": {"name": "tiny", "label_name": "tiny"},
    "reward": {"name": "math", "label": "ground_truth"},
    "clip": {"name": "standard", "low": 0.2, "high": 0.2},
    "algorithm": {"group_size": 8, "lr": 5e-7},
}
KILLED_ATTEMPT = {step: {"train/reward_mean": step / 10, "train/accuracy": step / 4} for step in range(4)}
KILLED_ATTEMPT[1]["train/accuracy"] = math.nan  # a metric that is NaN at one step: skipped
RESUMED_ATTEMPT = {step: {"train/reward_mean": step / 10 + 1, "train/accuracy": 0.5} for step in range(3, 6)}


def log_all(logger, rows):
    for step, metrics in rows.items():
        logger.log(step, metrics)
    logger.close()


def make(name, run_dir, *, resume_step=None, is_main=True, **fields):
    return build_logger(LoggerConfig(name=name, **fields), run_dir=run_dir, run_name=RUN_NAME, config=CONFIG,
                        resume_step=resume_step, is_main=is_main)  # fmt: skip


@pytest.fixture
def wandb_offline(tmp_path, monkeypatch):
    """wandb without network, writing only below tmp_path; console capture off so pytest keeps its own."""
    for var, sub in (("WANDB_DIR", "wandb"), ("WANDB_CONFIG_DIR", "config"), ("WANDB_CACHE_DIR", "cache"),
                     ("WANDB_DATA_DIR", "data"), ("WANDB_ARTIFACT_DIR", "artifacts")):  # fmt: skip
        (tmp_path / sub).mkdir()
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_CONSOLE", "off")
    import wandb

    yield
    wandb.teardown()  # stops wandb's service process


def test_an_unknown_logger_names_the_known_ones(tmp_path):
    with pytest.raises(KeyError, match=r"did you mean 'wandb'\?.*available: none, tensorboard, wandb"):
        make("wandbb", tmp_path / "run")


def test_an_unknown_logger_fails_on_every_rank(tmp_path):
    with pytest.raises(KeyError, match="unknown logger"):
        make("tensorbord", tmp_path / "run", is_main=False)


def test_none_writes_nothing(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    log_all(make("none", run_dir), KILLED_ATTEMPT)
    assert list(run_dir.iterdir()) == []


@pytest.mark.parametrize("name", ["none", "wandb", "tensorboard"])
def test_other_ranks_log_nothing(name, tmp_path, wandb_offline):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    log_all(make(name, run_dir, is_main=False), KILLED_ATTEMPT)
    assert list(run_dir.iterdir()) == []


# ----------------------------------------------------------------------------------------------------- wandb
def wandb_records(path: Path):
    """Every record of a ``.wandb`` file: what an offline run recorded and ``wandb sync`` would upload.

    wandb no longer ships a Python reader (``wandb.sdk.internal.datastore`` is gone) and ``wandb.Api`` needs
    the server, so this reads the file itself. Layout: a 7-byte header (``:W&B``, magic 0xBEE1 little-endian,
    version 0), then LevelDB's log format: 32 KiB blocks of chunks, each with a 7-byte header (crc32c,
    length, type: 1 full, 2 first, 3 middle, 4 last); a block's tail shorter than a header is padding. The
    chunks of one record join into a serialized ``wandb_internal_pb2.Record``.
    """
    from wandb.proto.wandb_internal_pb2 import Record

    data, block = path.read_bytes(), 32 * 1024
    assert data[:7] == b":W&B" + struct.pack("<HB", 0xBEE1, 0), data[:7]
    position, parts = 7, []
    while position + 7 <= len(data):
        if block - position % block < 7:
            position += block - position % block
            continue
        _crc, length, kind = struct.unpack("<IHB", data[position : position + 7])
        parts.append(data[position + 7 : position + 7 + length])
        position += 7 + length
        if kind in (1, 4):
            record = Record()
            record.ParseFromString(b"".join(parts))
            parts = []
            yield record


def key_of(item) -> str:
    return item.key or ".".join(item.nested_key)


def offline_attempts(run_dir: Path) -> list[dict]:
    """Per attempt (one offline-run folder each, in the order wandb started them): the run record's id,
    config, tags, group and name, and the history rows ``{step: {metric: value}}``."""
    import wandb

    # wandb's service process writes the files; `finish()` returns before it has flushed them (under load CI
    # read a file holding its header only). Teardown stops the service once everything is written.
    wandb.teardown()
    attempts = []
    for path in sorted(run_dir.glob("wandb/offline-run-*/run-*.wandb")):
        attempt = {"history": {}}
        for record in wandb_records(path):
            if record.HasField("run"):
                run = record.run
                config = {key_of(u): json.loads(u.value_json) for u in run.config.update}
                config.pop("_wandb", None)  # wandb's own bookkeeping
                attempt |= {"started": run.start_time.ToNanoseconds(), "id": run.run_id, "project": run.project,
                            "group": run.run_group, "name": run.display_name, "tags": list(run.tags),
                            "config": config}  # fmt: skip
            elif record.HasField("history"):
                row = {key_of(item): json.loads(item.value_json) for item in record.history.item}
                step = row.pop("_step")
                assert step not in attempt["history"], f"step {step} twice in one attempt"
                attempt["history"][step] = {k: v for k, v in row.items() if not k.startswith("_")}
        assert "started" in attempt, f"{path}: no run record"
        attempts.append(attempt)
    # Folder names hold the start time to the second only, then the id: two attempts started within a
    # second would sort by id.
    return sorted(attempts, key=lambda attempt: attempt["started"])


def test_wandb_resumed_run_continues_the_same_run_and_sends_each_step_once(tmp_path, wandb_offline):
    run_dir = tmp_path / "run"
    log_all(make("wandb", run_dir, tags=["smoke"]), KILLED_ATTEMPT)
    assert json.loads((run_dir / LOGGER_STATE_FILE).read_text()) == {"last_step": 3}
    log_all(make("wandb", run_dir, resume_step=2, tags=["smoke"]), RESUMED_ATTEMPT)

    attempts = offline_attempts(run_dir)
    run_id = (run_dir / WANDB_ID_FILE).read_text().strip()
    assert [a["id"] for a in attempts] == [run_id, run_id]
    for attempt in attempts:
        assert attempt["config"] == CONFIG
        assert attempt["tags"] == ["smoke", "model:tiny", "reward:ground_truth", "clip:standard"]
        assert (attempt["project"], attempt["group"], attempt["name"]) == ("spurious-rewards", "adhoc", RUN_NAME)
    first, resumed = (a["history"] for a in attempts)
    assert sorted(first) == [0, 1, 2, 3] and sorted(resumed) == [4, 5]  # step 3 was sent by the killed attempt
    history = first | resumed
    assert history[1] == {"train/reward_mean": 0.1}  # accuracy was NaN: skipped
    assert history[3] == KILLED_ATTEMPT[3]
    assert history[5] == {"train/reward_mean": 1.5, "train/accuracy": 0.5}
    assert json.loads((run_dir / LOGGER_STATE_FILE).read_text()) == {"last_step": 5}


def test_wandb_fresh_start_in_a_used_directory_is_a_new_run(tmp_path, wandb_offline):
    """A fresh start (no checkpoint to resume from) sends every step again, to a new wandb run."""
    run_dir = tmp_path / "run"
    log_all(make("wandb", run_dir), KILLED_ATTEMPT)
    log_all(make("wandb", run_dir), RESUMED_ATTEMPT)
    first, second = offline_attempts(run_dir)
    assert first["id"] != second["id"] == (run_dir / WANDB_ID_FILE).read_text().strip()
    assert sorted(second["history"]) == [3, 4, 5]


# ----------------------------------------------------------------------------------------------- tensorboard
def tensorboard_scalars(log_dir: Path) -> dict[str, dict[int, float]]:
    """``{tag: {step: value}}`` as TensorBoard shows them (purges applied); a step twice fails."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir))
    events.Reload()
    scalars = {}
    for tag in events.Tags()["scalars"]:
        steps = [e.step for e in events.Scalars(tag)]
        assert len(steps) == len(set(steps)), f"{tag}: a step twice in {steps}"
        scalars[tag] = {e.step: e.value for e in events.Scalars(tag)}
    return scalars


def test_tensorboard_resumed_writer_purges_the_steps_after_the_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    log_all(make("tensorboard", run_dir, log_dir="tb"), KILLED_ATTEMPT)
    log_all(make("tensorboard", run_dir, log_dir="tb", resume_step=2), RESUMED_ATTEMPT)

    scalars = tensorboard_scalars(run_dir / "tb")
    # Steps 0..2 from the killed attempt, 3..5 from the resumed one (its step 3 replaced the killed one's).
    assert scalars["train/reward_mean"] == pytest.approx({0: 0.0, 1: 0.1, 2: 0.2, 3: 1.3, 4: 1.4, 5: 1.5})
    assert scalars["train/accuracy"] == pytest.approx({0: 0.0, 2: 0.5, 3: 0.5, 4: 0.5, 5: 0.5})  # NaN at 1


def test_tensorboard_fresh_start_in_a_used_directory_drops_the_earlier_events(tmp_path):
    run_dir = tmp_path / "run"
    log_all(make("tensorboard", run_dir), KILLED_ATTEMPT)
    log_all(make("tensorboard", run_dir), RESUMED_ATTEMPT)
    assert sorted(tensorboard_scalars(run_dir / "tensorboard")["train/reward_mean"]) == [3, 4, 5]
