"""wsm.analyses.ablations on a small fake zoo: what the page already has (its own protocol's table) is reused."""

import pandas as pd
import pytest

from test_scaling import protocol, small_zoo  # noqa: F401  (the fixture)
from test_zoo import fake_data  # noqa: F401  (the fixture)
from wsm.analyses import ablations

pytestmark = pytest.mark.usefixtures("fake_data")

COLS = ["kind", "depth", "protocol", "accuracy", "n", "correct"]


def test_split_seeds_and_row_normalization_reuse_the_protocols_own_table(small_zoo):  # noqa: F811
    proto = protocol(null_repeats=0)
    own = proto.evaluate_zoo(small_zoo)
    features = ablations.standardization(proto, small_zoo, known=own)
    assert set(features.setting) == {ablations.STANDARDIZED, "raw vec(φ) (code)"}
    pd.testing.assert_frame_equal(ablations.standardization(proto, small_zoo), features)
    computed = ablations.split_seeds(proto, small_zoo, [0, 1])
    reused = ablations.split_seeds(proto, small_zoo, [0, 1], known=own)
    assert set(computed.kind) == {"normalized"} and set(computed.setting) == {"0", "1"}
    cols = [c for c in COLS if c in computed]
    pd.testing.assert_frame_equal(computed[cols].reset_index(drop=True), reused[cols].reset_index(drop=True))
    rows = [ablations.row_normalization(proto, small_zoo, known=k) for k in (None, own)]
    pd.testing.assert_frame_equal(*(r[cols].reset_index(drop=True) for r in rows))
    assert set(rows[0].depth) == {2}                      # chain 1 is the same either way: left out
    other = computed[computed.setting == "1"]
    assert len(other) == len(computed[computed.setting == "0"]) == 2 * len(proto.chains)   # 2 protocols


def test_the_classifier_ablation_puts_the_nearest_neighbour_beside_the_linear_classifier(small_zoo):  # noqa: F811
    from wsm.maths import htt

    proto = protocol(null_repeats=0)
    own = proto.evaluate_zoo(small_zoo)
    table = ablations.classifier(proto, small_zoo, known=own)
    assert set(table.setting) == {ablations.LINEAR, ablations.NEAREST}
    linear, nearest = (table[table.setting == s].reset_index(drop=True) for s in (ablations.LINEAR, ablations.NEAREST))
    assert set(nearest.classifier) == {"nearest"} and set(linear.classifier) == {"linear"}
    keys = ["kind", "depth", "protocol", "n"]                      # the same cells on the same test networks
    pd.testing.assert_frame_equal(linear[keys], nearest[keys])
    shown = htt.percent(table.assign(architecture="MLP-4"))
    up, down, cells = ablations.classifier_limit(shown)
    assert cells == len(linear) and 0 <= up + down <= cells
