"""Writing files so that a reader never sees half of one: temporary file, then rename."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def _read_umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


#: The process's umask, read once at import: reading it means setting it, and a file another
#: thread created in between would get the wrong permissions.
UMASK = _read_umask()


def _umask() -> int:
    return UMASK


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it into place."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes, durable: bool = False) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place. ``durable``
    also flushes the file and the rename to disk (``fsync``), so a power cut leaves the old file or
    the new one; a killed process leaves them without it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable and hasattr(os, "O_DIRECTORY"):
        directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def write_json_atomic(path: Path, data: Any) -> None:
    """``data`` as indented JSON, written atomically."""
    write_text_atomic(path, json.dumps(data, indent=1))


def write_new_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` only if no file is there, atomically; else ``FileExistsError``
    (a temporary file is hard-linked into place, which fails rather than replaces)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o666 & ~_umask())
        os.link(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
