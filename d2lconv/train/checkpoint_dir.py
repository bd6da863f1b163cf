"""The directory a ``Trainer(checkpoint_dir=...)`` writes into: ``last.safetensors`` (rewritten
atomically at every checkpoint), ``best.safetensors`` when asked, and a lock, so that a second
process training into the same directory is refused instead of overwriting the first one's files.

The lock is an OS file lock (``filelock``: ``flock`` on POSIX), which the system releases when
its process dies, even by SIGKILL: a killed run never leaves a stale lock behind.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from ..atomic import write_bytes_atomic, write_json_atomic
from ..registry import public
from .checkpoint import SUFFIX, Checkpoint, read

LAST, BEST, LOCK, OWNER = f"last{SUFFIX}", f"best{SUFFIX}", ".lock", ".owner.json"


@public
class CheckpointDirLockedError(RuntimeError):
    """Another process is training into the same checkpoint directory."""


class CheckpointDir:
    """A checkpoint directory: ``with CheckpointDir(path).locked(): ...`` holds its lock."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        if self.path.exists() and not self.path.is_dir():
            raise NotADirectoryError(f"Trainer: checkpoint_dir={os.fspath(path)!r} is a file, not a directory")
        self._lock: Any = None

    @property
    def last(self) -> Path:
        return self.path / LAST

    @property
    def best(self) -> Path:
        return self.path / BEST

    def __enter__(self) -> CheckpointDir:
        from filelock import FileLock, Timeout

        self.path.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.path / LOCK))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise CheckpointDirLockedError(
                f"Trainer: another run is training into {self.path} ({self._owner()}); wait for it to finish, "
                f"stop it, or give this run another checkpoint_dir. Nothing was written.") from None
        self._lock = lock
        for stale in self.path.glob(f".*{SUFFIX}.*.tmp"):  # a write cut short by a killed run
            print(f"Trainer: removing {stale.name}, a checkpoint whose writing was cut short (its run was "
                  f"killed); the checkpoint before it is whole", file=sys.stderr)
            stale.unlink(missing_ok=True)
        write_json_atomic(self.path / OWNER, {"pid": os.getpid(), "host": socket.gethostname(),
                                              "started": time.strftime("%Y-%m-%d %H:%M:%S")})
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._lock is not None:
            (self.path / OWNER).unlink(missing_ok=True)
            self._lock.release()
            self._lock = None

    def _owner(self) -> str:
        try:
            owner = json.loads((self.path / OWNER).read_text())
            return f"process {owner['pid']} on {owner['host']}, since {owner['started']}"
        except (OSError, ValueError, KeyError):
            return "a process that holds its lock"

    def write(self, data: bytes, best: bool = False) -> Path:
        """Replace ``last`` (and ``best`` if asked) with ``data``, atomically and durably."""
        write_bytes_atomic(self.last, data, durable=True)
        if best:
            write_bytes_atomic(self.best, data, durable=True)
        return self.last

    def read_last(self) -> Checkpoint | None:
        """The last checkpoint, verified, or ``None`` if the directory holds none."""
        return read(self.last) if self.last.exists() else None
