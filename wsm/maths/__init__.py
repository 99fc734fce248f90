"""The paper's mathematics: chain normalization and Grams (chain), the weight classifier, its
splits and both protocols (htt), exact intervals and tests (stats), the decision rules (verdicts)."""
