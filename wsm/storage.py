"""Atomic file writes, and who is writing: a file is either its old self or completely new, never
half-written, and a file being written names its writer, so that a build sharing the folder with
other builders removes only what a dead builder left behind."""

from __future__ import annotations

import os
import socket
import tempfile
import time
from pathlib import Path

SEP = "~"    # in no host name and no file name of wsm's


def host() -> str:
    return socket.gethostname()


def alive(pid: int) -> bool:
    """Whether process ``pid`` of this host is running (a zombie, killed but not yet reaped, is not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:                      # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True


def abandoned(writer_host: str, pid: int, age: float, ttl: float) -> bool:
    """Whether a writer's file (a temporary file, a claim) is left over: its writer is a dead process
    of this host, or it was last touched more than ``ttl`` seconds ago (a writer elsewhere)."""
    return age > ttl or (writer_host == host() and not alive(pid))


def atomic_write(path: str | Path, write) -> None:
    """Call ``write(f)`` on a binary temporary file beside ``path`` (named
    ``.<name>~<host>~<pid>~*.tmp``: :func:`stale_temporary` tells a dead writer's from a live one's),
    then rename it onto ``path``. On any error, or an interrupt, the temporary file is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}{SEP}{host()}{SEP}{os.getpid()}{SEP}",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def stale_temporary(file: Path, ttl: float) -> bool:
    """Whether ``file``, a temporary file of :func:`atomic_write`, was left by a writer that died
    (see :func:`abandoned`); one without a writer in its name (older versions) by its age alone."""
    try:
        age = time.time() - file.stat().st_mtime
    except FileNotFoundError:
        return False                      # finished (renamed) or removed meanwhile
    parts = file.name.split(SEP)
    if len(parts) == 4 and parts[2].isdigit():
        return abandoned(parts[1], int(parts[2]), age, ttl)
    return age > ttl
