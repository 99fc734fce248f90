"""bench.gram_slices: the benchmark's reference (the sliced Gram before its symmetric half) and the
current one agree, and the CSV names both variants."""

import pandas as pd

from bench import gram_slices


def test_gram_slices_before_and_after_agree(tmp_path):
    out = tmp_path / "gram_slices.csv"
    assert gram_slices.main(["--networks", "4", "--depths", "1", "2", "--out", str(out)]) == 0
    df = pd.read_csv(out)
    assert set(df.variant) == {"every row, all columns (before)", "upper triangle, buffers once (after)"}
    assert set(df.chain) == {1, 2} and (df.factor == "3072x500").all()
    assert (df.max_rel_diff < 1e-6).all()
