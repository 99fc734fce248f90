"""The version of wsm's code that a stored result depends on.

:func:`code` is a digest of the source text of named wsm modules. Cached Gram matrices and their
tiles carry the digest of the modules that compute them (:data:`FEATURE_MODULES`) in their keys,
so any change of that code, however small, gives new keys: a stale Gram is never read back. A
hand-bumped version constant would also do that, but only when someone remembers to bump it;
the digest cannot be forgotten. Its price is that an edit that changes no number (a comment,
a docstring) recomputes the Grams once; the old files are simply no longer read.

The same digest, over the modules that train a zoo, lets the Ray engine (:mod:`wsm.zoos.engine`) refuse
a cluster node that runs another version of the training code than the driver.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
from pathlib import Path

# the modules whose code computes chain features, Gram matrices and their tiles
FEATURE_MODULES = ("wsm.maths.chain", "wsm.zoos.tiles")
# the modules whose code determines a trained network's weights
TRAINING_MODULES = ("wsm.zoos.training", "wsm.zoos.vectorized", "wsm.zoos.gru", "wsm.zoos.nets", "wsm.zoos.data",
                    "wsm.zoos.namedata")


@functools.cache
def code(modules: tuple[str, ...] = FEATURE_MODULES) -> str:
    """A 16-hex-digit BLAKE2b digest of the source files of ``modules`` (module names, in order)."""
    h = hashlib.blake2b(digest_size=8)
    for name in modules:
        source = Path(importlib.util.find_spec(name).origin)
        h.update(name.encode() + b"\0" + source.read_bytes() + b"\0")
    return h.hexdigest()
