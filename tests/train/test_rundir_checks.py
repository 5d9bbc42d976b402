"""A run directory that cannot take a file, or a disk that cannot take the run's checkpoints, fails the run
at its start with a message naming the path and the numbers (tests run as root, for whom no permission bit
stops a write: an unwritable directory is a path under a file, a full disk a stand-in for the system call)."""

from __future__ import annotations

import errno
import os
import re
from dataclasses import replace

import pytest

import rlvr.train.rundir as rundir
from conftest import compose_run, run_module
from rlvr.train.rundir import GB, RunDirError, check_free_space, check_writable, run_disk_bytes

TRAINER = compose_run().trainer


def test_a_writable_directory_passes_and_keeps_no_probe(tmp_path):
    check_writable(tmp_path / "run", rank=3)  # created if missing
    assert (tmp_path / "run").is_dir() and list((tmp_path / "run").iterdir()) == []


def test_a_path_under_a_file_is_not_writable(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(RunDirError, match=re.escape(f"the run directory {blocker / 'run'} is not writable (")):
        check_writable(blocker / "run", rank=0)


def test_a_disk_full_at_fsync_is_named(tmp_path, monkeypatch):
    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(rundir.os, "fsync", full)
    with pytest.raises(RunDirError, match=re.escape(f"the run directory {tmp_path} is not writable (No space left on device)")):
        check_writable(tmp_path, rank=0)


@pytest.mark.parametrize(
    "total, every, keep_last, start, expected_gb",
    [
        # 1e9 parameters in bf16: HF weights 2 GB a checkpoint, full state 12 GB; min_free_gb 2
        (300, 50, 2, 0, 6 * 2 + 3 * 12 + 2),  # 6 checkpoints; 3 full states at once (keep_last + 1)
        (301, 50, 2, 0, 7 * 2 + 3 * 12 + 2),  # and one at the last step
        (300, 50, 2, 100, 4 * 2 + 3 * 12 + 2),  # resumed after step 100: steps 150, 200, 250, 300 to come
        (300, 50, 9, 0, 6 * 2 + 6 * 12 + 2),  # never more full states than checkpoints
        (300, 50, 2, 300, 0 + 0 + 2),  # a finished run writes none
    ],
)
def test_the_estimate_of_what_a_run_writes(total, every, keep_last, start, expected_gb):
    trainer = replace(TRAINER, total_steps=total, checkpoint_every=every, keep_last=keep_last, min_free_gb=2.0)
    assert run_disk_bytes(10**9, 2, trainer, start_step=start) == expected_gb * GB


def test_too_little_free_space_names_path_free_and_needed(tmp_path, monkeypatch):
    monkeypatch.setattr(rundir.shutil, "disk_usage", lambda path: _usage(free=5 * 10**8))
    expected = f"the disk of the run directory {tmp_path} has 0.50 GB (500000000 bytes) free, but the run will write up to 2.00 GB (2000000000 bytes"
    with pytest.raises(RunDirError, match=re.escape(expected)):
        check_free_space(tmp_path, 2 * GB)
    check_free_space(tmp_path, 5 * 10**8)  # exactly enough


def _usage(free: int):
    import shutil

    return shutil._ntuple_diskusage(total=10**12, used=10**12 - free, free=free)


@pytest.mark.slow
def test_a_run_without_room_stops_before_its_first_step(train_cmd):
    cmd, root = train_cmd
    result = run_module(cmd + ["trainer.total_steps=2", "trainer.min_free_gb=1e9"], check=False)  # an exabyte
    assert result.returncode != 0
    assert re.search(r"the disk of the run directory \S+ has [\d.]+ GB \(\d+ bytes\) free, but the run will write up to "
                     r"1000000000\.\d\d GB", result.stderr), result.stderr[-3000:]
    assert not list(root.rglob("metrics.jsonl"))  # nothing trained, nothing logged
