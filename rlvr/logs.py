"""What a command shows on the console: its own messages, progress bars and warnings. Everything else that
libraries print (DeepSpeed building its C++ op, compiler lines, transformers' loading and shard-writing
bars, library INFO logs) goes to the run's log file only, unless the run asks for it (``verbose=true``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import Iterator

OWN_LOGGERS = ("rlvr", "analysis", "__main__")


class OwnMessagesOnly(logging.Filter):
    """Pass this project's records, and everybody's warnings and errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or record.name.split(".", 1)[0] in OWN_LOGGERS


def quiet_console(verbose: bool) -> None:
    """Keep third-party INFO logs and progress bars off the console (they stay in the log file)."""
    if verbose:
        return
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    for handler in logging.getLogger().handlers:
        if _is_console(handler) and not any(isinstance(f, OwnMessagesOnly) for f in handler.filters):
            handler.addFilter(OwnMessagesOnly())


@contextlib.contextmanager
def third_party_output_to_log(verbose: bool) -> Iterator[None]:
    """While inside, what is written to the process's stdout and stderr (subprocesses included: DeepSpeed's
    compiler runs) goes to the run's log file, when there is one and the run is not ``verbose``."""
    path = log_file()
    if verbose or path is None:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        with open(path, "a") as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in zip((1, 2), saved):
            os.dup2(copy, fd)
            os.close(copy)


def log_file() -> Path | None:
    """The file the root logger writes to (Hydra's ``<output dir>/<job name>.log``), if any."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            return Path(handler.baseFilename)
    return None


def move_log_files(old_dir: Path, new_dir: Path) -> None:
    """Point the root logger's files in ``old_dir`` at the same names in ``new_dir`` (appending), e.g. a
    non-zero rank's log from its own Hydra output dir to rank 0's, which it shares from then on."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename).parent == Path(old_dir):
            handler.acquire()
            try:
                handler.close()  # reopened at the next record, at the new path
                handler.baseFilename = str(Path(new_dir) / Path(handler.baseFilename).name)
                handler.mode = "a"
            finally:
                handler.release()


def _is_console(handler: logging.Handler) -> bool:
    return isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler)
