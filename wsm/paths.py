"""Where wsm reads and writes, in one place: the data, cache and zoo roots, the download switch and
the engine that spreads the work (and its Ray cluster).

Each comes from its environment variable when set, else a default beside the checkout:

==================  ===================  ====================================================
what                variable             default
==================  ===================  ====================================================
data root           ``WSM_DATA``         ``<repo>/data`` (Tiny ImageNet archive, ``names/``)
decoded images      ``WSM_CACHE``        ``<repo>/.cache``
weight zoos         ``WSM_ZOOS``         ``<repo>/zoos`` (Gram matrices under ``grams/``)
download allowed    ``WSM_DOWNLOAD``     off (``1`` allows fetching a missing archive)
engine              ``WSM_ENGINE``       the profile's (``local``: one process; ``ray``: Ray)
Ray cluster         ``WSM_RAY_ADDRESS``  none: Ray starts a local cluster on this machine
==================  ===================  ====================================================

An explicit argument always wins over the variable.
"""

from __future__ import annotations

import os
from pathlib import Path

from wsm.errors import WsmError

REPO = Path(__file__).resolve().parent.parent


def _root(given, variable: str, default: Path) -> Path:
    return Path(given if given is not None else os.environ.get(variable) or default).expanduser()


def data_root(root=None) -> Path:
    """``root`` if given, else ``$WSM_DATA``, else ``<repo>/data`` (not required to exist)."""
    return _root(root, "WSM_DATA", REPO / "data")


def zoo_root(root=None) -> Path:
    """``root`` if given, else ``$WSM_ZOOS``, else ``<repo>/zoos`` (created when a zoo is built)."""
    return _root(root, "WSM_ZOOS", REPO / "zoos")


def gram_cache(root=None) -> Path:
    """Where Gram matrices are kept by content (:func:`wsm.chain.gram`'s ``cache``): ``<zoo root>/grams``,
    so one page's Grams serve every page that reuses its zoos."""
    return zoo_root(root) / "grams"


def cache_root() -> Path:
    """``$WSM_CACHE``, else ``<repo>/.cache``; created on demand."""
    path = _root(None, "WSM_CACHE", REPO / ".cache")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise WsmError(f"cannot create the cache folder {path} ({e}); set WSM_CACHE to a writable folder") from None
    return path


def engine(given: str | None = None) -> str | None:
    """``given`` if set, else ``$WSM_ENGINE``, else None (the caller's default: a profile's engine)."""
    return given or os.environ.get("WSM_ENGINE") or None


def ray_address(given: str | None = None) -> str | None:
    """``given`` if set, else ``$WSM_RAY_ADDRESS``, else None (Ray starts a local cluster)."""
    return given or os.environ.get("WSM_RAY_ADDRESS") or None


def download_allowed(download: bool = False) -> bool:
    """Whether a missing dataset may be fetched: ``download`` or ``WSM_DOWNLOAD=1``."""
    return bool(download) or os.environ.get("WSM_DOWNLOAD") == "1"
