"""wsm: are two trained networks the same solution? Weight similarity of neural networks via the chain
normalization rule and hypothesis-training-testing (a reproduction of the paper, and a tool).

The public API, in five lines::

    import wsm
    wsm.compare("a.pt", "b.pt")                        # chain by chain: cosine of phi^l, beside unrelated pairs
    k = wsm.gram(networks, depth=2)                    # <vec phi^2_i, vec phi^2_j> between networks
    zoo = wsm.load_zoo("zoos/tiny-imagenet-mlp4-quick")
    table = wsm.hypothesis_test(wsm.WeightSet.of_zoo(zoo), wsm.Test(depths=(1, 2)))

and :func:`phi` (one network's chain-normalized matrix, Eq. 7), :func:`test_networks` (the ``wsm htt``
command on a folder of your own networks). Every problem with the input is a :class:`WsmError`.

The package is in wings, each importing only those below it (pyproject's import-linter contract):
``wsm.book`` (pages, the runner, the first page), ``wsm.report`` (claims, verdict tables, summary,
figures), ``wsm.analyses`` (compare, baselines, controls, ablations, the zoo-size study), ``wsm.zoos``
(data, networks, training, run files, the distributed engine), ``wsm.maths`` (chain normalization, the
weight classifier and its protocols, statistics, decision rules) and ``wsm.core`` (errors, paths,
files, the paper's printed numbers, the profiles). ``wsm.cli`` is the command line on top.
"""

from wsm.core.errors import WsmError

__version__ = "0.1.0"

# name -> (module, attribute): imported on first use, so `import wsm` (and the command line) stays light
_API = {
    "phi": ("wsm.maths.chain", "phi"),
    "gram": ("wsm.maths.chain", "gram"),
    "WeightSet": ("wsm.maths.htt", "WeightSet"),
    "Test": ("wsm.maths.htt", "Test"),
    "hypothesis_test": ("wsm.maths.htt", "hypothesis_test"),
    "test_networks": ("wsm.analyses.own", "on_networks"),
    "compare": ("wsm.analyses.compare", "compare"),
    "load_zoo": ("wsm.zoos.zoo", "load_zoo"),
}
__all__ = ["WsmError", "__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        import importlib

        module, attribute = _API[name]
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'wsm' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
