"""A non-zero rank whose Hydra output dir differs from rank 0's (their ``${now:}`` timestamps fell on either
side of a second) moves its log file to rank 0's dir, so that its twin dir can go and its output still lands."""

from __future__ import annotations

import logging
import os

from rlvr.logs import log_file, move_log_files, third_party_output_to_log


def test_a_rank_moves_its_log_file_into_the_shared_run_dir(tmp_path):
    mine, shared = tmp_path / "14-35-02_run", tmp_path / "14-35-01_run"
    mine.mkdir(), shared.mkdir()  # noqa: B018
    (shared / "train.log").write_text("rank 0 was here\n")
    root, handler = logging.getLogger(), logging.FileHandler(mine / "train.log")
    root.handlers.insert(0, handler)  # the first file handler is the log file (pytest may add its own)
    try:
        logging.getLogger("rlvr.test").warning("before the move")
        move_log_files(mine, shared)
        assert log_file() == shared / "train.log"
        logging.getLogger("rlvr.test").warning("after the move")
        (mine / "train.log").unlink(), mine.rmdir()  # noqa: B018  (the twin goes)
        with third_party_output_to_log(verbose=False):
            os.write(1, b"third-party output\n")  # what a compiler subprocess writes to the inherited fd
        handler.flush()
    finally:
        root.removeHandler(handler)
        handler.close()
    assert (shared / "train.log").read_text().splitlines() == ["rank 0 was here", "after the move", "third-party output"]
