"""Atomic file writes, and who is writing: a file is either its old self or completely new, never
half-written (its bytes reach the disk before the rename that publishes it, so a power cut leaves
the old file or the new one), and a file being written names its writer, so that a build sharing
the folder with other builders removes only what a dead builder left behind.

Cached tensors (:func:`save_tensor`, :func:`load_tensor`) carry the SHA-256 of their bytes, as run
files do: a cache file whose data changed on disk (one flipped byte) is not read back, it is
recomputed by its caller."""

from __future__ import annotations

import hashlib
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
    flush it to the disk (``fsync``), then rename it onto ``path`` and flush the folder, so that
    after a crash or a power cut ``path`` is its old self or the complete new file. On any error, or
    an interrupt, the temporary file is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}{SEP}{host()}{SEP}{os.getpid()}{SEP}",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())          # the data on the disk before the rename publishes it
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename in it) to the disk, where the system allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:                      # a filesystem that cannot sync a folder: the rename stands
        pass
    finally:
        os.close(fd)


def tensor_digest(t) -> str:
    """SHA-256 of a tensor's dtype, shape and bytes."""
    import torch

    t = t.detach().cpu().contiguous()
    h = hashlib.sha256(f"{t.dtype}:{tuple(t.shape)};".encode())
    if t.numel():
        h.update(t.reshape(-1).view(torch.uint8).numpy())
    return h.hexdigest()


def save_tensor(path: str | Path, t) -> None:
    """Keep tensor ``t`` in ``path`` (atomically, see :func:`atomic_write`) with its checksum
    (:func:`tensor_digest`), for :func:`load_tensor`."""
    import torch

    record = {"tensor": t, "sha256": tensor_digest(t)}
    atomic_write(path, lambda f: torch.save(record, f))


def load_tensor(path: str | Path):
    """The tensor :func:`save_tensor` kept in ``path``, or None where there is none, the file cannot be
    read, it is not such a record, or its bytes fail their checksum: the caller computes it again."""
    import torch

    path = Path(path)
    if not path.exists():
        return None
    try:
        record = torch.load(path, weights_only=True, map_location="cpu")
        t = record["tensor"]
        return t if isinstance(t, torch.Tensor) and tensor_digest(t) == record["sha256"] else None
    except Exception:                   # damaged beyond reading, or an older cache's bare tensor
        return None


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
