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
    # Both variants form the same float32 slices of phi (sums of k = 500 products, <= sqrt(500) x eps32 =
    # 2.7e-6 of max |phi| apart if their kernels differed) and centre and multiply them in float64, the
    # triangle's columns counted twice: ~ sqrt(3072^2) x u64 = 3e-13 of max |K| apart, and independent
    # float32 errors of phi's 3072^2 entries average down by ~1/3072 in K: 1e-9. Measured 0 (natively,
    # one thread, SSE4.2 kernels); a slice left out or counted twice moves K by O(1 / slices)
    assert (df.max_rel_diff < 1e-6).all()
