"""wsm: weight similarity of neural networks via the chain normalization rule.

Modules are named after the paper's nouns: :mod:`wsm.data` (datasets and learning tasks),
:mod:`wsm.zoo` (networks trained many times per task), :mod:`wsm.chain` (chain-normalized
weights, Eq. 6-7), :mod:`wsm.htt` (hypothesis-training-testing: weight classification and
retrieval), :mod:`wsm.profiles` (smoke / quick / paper), :mod:`wsm.plots` and
:mod:`wsm.results` (figures and the results table).
"""

from wsm.errors import WsmError

__all__ = ["WsmError"]
__version__ = "0.1.0"
