"""wsm.analyses.permutations: Fig. 1's worked example with the paper's printed matrices, and its rows."""

import pandas as pd
import pytest

from wsm.analyses import permutations
from wsm.report import claims


def test_fig1_printed_matrices_are_the_swapped_ones_and_only_raw_weights_change():
    f = permutations.fig1(seed=0)
    v = dict(zip(f.checks.check, f.checks.value))
    assert v["W1' printed = W1 with columns 1,2 swapped"] == v["W2' printed = W2 with rows 1,2 swapped"] == 1.0
    assert f.checks.value[2] < 1e-12 and f.checks.value[3] < 1e-12 and f.checks.value[4] < 1e-12
    assert f.checks.value[5] == pytest.approx(0.7)          # |0.8 - 0.1|: W1's first two columns swapped
    assert "residual" in permutations.h1_residual(f.w1)


def test_rows_carry_the_exact_claims_and_the_raw_weights_without_one():
    class Page:
        profile, dataset, scale = "smoke", "tiny-imagenet", "test"

    trained = pd.DataFrame([dict(architecture="mlp4", depth=1, phi_relative_change=1e-16, raw_relative_change=1.2,
                                 output_max_abs_change=0.0, phi_size="3072x3072")])
    rows = permutations.rows(Page, permutations.fig1(0).checks, trained)
    assert list(rows.figure) == ["Fig. 1", "Eq. 6", "Eq. 6"]
    assert rows.paper.iloc[0] == rows.paper.iloc[1] == claims.EXACT and pd.isna(rows.paper.iloc[2])
