"""Analyses beyond the paper on the same zoos: compare, baselines, controls, semantics, ablations,
the zoo-size study, the pages' experiments (beyond, permutations)."""
