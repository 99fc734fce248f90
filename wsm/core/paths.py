"""Where wsm reads and writes, in one place: the data, cache and zoo roots, the download switch and
the engine that spreads the work (and its Ray cluster).

Each comes from its environment variable when set, else a default: beside the checkout when wsm
runs from one (a source tree with ``pyproject.toml`` or ``.git`` beside the package), else in the
user's folders (``platformdirs``; on Linux ``~/.local/share/wsm`` and ``~/.cache/wsm``), never
beside an installed package's own files:

* data root: ``WSM_DATA``; ``<repo>/data`` from a checkout, ``<user data>/data`` installed;
* decoded images: ``WSM_CACHE``; ``<repo>/.cache``, or ``<user cache>``;
* weight zoos: ``WSM_ZOOS``; ``<repo>/zoos``, or ``<user data>/zoos``;
* download allowed: ``WSM_DOWNLOAD``; off (``1`` allows fetching a missing archive);
* engine: ``WSM_ENGINE``; the profile's (``local``: one process; ``ray``: Ray);
* Ray cluster: ``WSM_RAY_ADDRESS``; none: Ray starts a local cluster on this machine.

The data root holds the Tiny ImageNet archive and ``names/``; the zoo root keeps Gram matrices
under ``grams/``. An explicit argument always wins over the variable.
"""

from __future__ import annotations

import os
from pathlib import Path

from wsm.core.errors import WsmError

PACKAGE = next(p for p in Path(__file__).resolve().parents if p.name == "wsm")   # the package folder
REPO = PACKAGE.parent
BENCHMARKS = REPO / "book" / "benchmarks"      # committed benchmark files and larger runs (a checkout's)


def checkout(repo: Path | None = None) -> bool:
    """Whether wsm runs from a source checkout (``pyproject.toml`` or ``.git`` beside the package)."""
    repo = REPO if repo is None else repo
    return (repo / "pyproject.toml").is_file() or (repo / ".git").exists()


def default(what: str) -> Path:
    """The default folder of ``what`` (``"data"``, ``"zoos"`` or ``"cache"``) when no variable is set."""
    if checkout():
        return REPO / {"data": "data", "zoos": "zoos", "cache": ".cache"}[what]
    import platformdirs

    if what == "cache":
        return platformdirs.user_cache_path("wsm")
    return platformdirs.user_data_path("wsm") / what


def _root(given, variable: str, default: Path) -> Path:
    return Path(given if given is not None else os.environ.get(variable) or default).expanduser()


def data_root(root=None) -> Path:
    """``root`` if given, else ``$WSM_DATA``, else :func:`default` ``"data"`` (not required to exist)."""
    return _root(root, "WSM_DATA", default("data"))


def zoo_root(root=None) -> Path:
    """``root`` if given, else ``$WSM_ZOOS``, else :func:`default` ``"zoos"`` (created when a zoo is built)."""
    return _root(root, "WSM_ZOOS", default("zoos"))


def gram_cache(root=None) -> Path:
    """Where Gram matrices are kept by content (:func:`wsm.maths.chain.gram`'s ``cache``): ``<zoo root>/grams``,
    so one page's Grams serve every page that reuses its zoos."""
    return zoo_root(root) / "grams"


def cache_root() -> Path:
    """``$WSM_CACHE``, else :func:`default` ``"cache"``; created on demand."""
    path = _root(None, "WSM_CACHE", default("cache"))
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
