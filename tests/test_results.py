"""The verdict columns of the results CSV and of every page's accuracy table (wsm.results)."""

import numpy as np
import pandas as pd

from wsm import results, stats, verdicts
from wsm.verdicts import CONSISTENT, INCONSISTENT, UNDERPOWERED


def acc(correct, n, **row):
    lo, hi = stats.clopper_pearson(correct, n)
    return dict(ours=100 * correct / n, n=n, ci_low=100 * lo, ci_high=100 * hi, null_mean=25.0, null_low=12.5,
                null_high=37.5, p_null=0.01, **row)


def test_results_csv_gains_verdicts(tmp_path):
    rows = [dict(figure="Fig. 2", panel="a", architecture="MLP-4", depth=1, kind="normalized", protocol="classification",
                 metric="top-1", profile="quick", dataset="Tiny ImageNet", scale="s", **acc(99, 100, paper=99.4)),
            dict(figure="Beyond", panel="x", architecture="MLP-4", depth=1, kind="normalized", protocol="classification",
                 metric="top-1", profile="quick", dataset="Tiny ImageNet", scale="s", **acc(50, 100, paper=np.nan)),
            dict(figure="Fig. 4", panel="claim", architecture="Adam", depth=np.nan, kind="normalized", protocol="both",
                 metric="mean", ours=30.0, paper=np.nan, n=10, profile="quick", dataset="d", scale="s", agrees="yes",
                 verdict=UNDERPOWERED)]
    out = pd.read_csv(results.write(rows, tmp_path, "page"))
    assert list(out.verdict.fillna("")) == [CONSISTENT, "", UNDERPOWERED]
    # Fig. 3's "about 98.0%" gets the "about" tolerance, a printed 98.0 does not
    tight = [dict(r, figure=f, **acc(997, 1000, paper=98.0)) for f, r in (("Fig. 3", rows[0]), ("Fig. 2", rows[0]))]
    out = pd.read_csv(results.write(tight, tmp_path, "tight"))
    assert list(out.verdict) == [CONSISTENT, INCONSISTENT]
    # a page without a paper value or claim writes no verdict column
    plain = pd.read_csv(results.write(rows[1:2], tmp_path, "plain"))
    assert "verdict" not in plain


def test_every_pages_accuracy_table_has_the_verdict_and_the_caption():
    ours = pd.DataFrame([acc(99, 100, feature="C1", paper="about 98.0", decision="accept H0",
                             p_error_below_alpha=0.04),
                         acc(50, 100, feature="L1", paper="not reported in the text", decision="reject H0",
                             p_error_below_alpha=1.0)])
    styler = results.accuracy_table(ours, ["feature"], ["paper"])
    shown = styler.data
    assert list(shown.verdict) == [CONSISTENT, "—"] and list(shown.columns[-2:]) == ["decision", "verdict"]
    assert shown["95% CI"].iloc[0] == "94.6–100.0"
    assert "one zoo, one split and one trained weight classifier" in styler.to_html()
    # no paper column: no verdict column
    assert "verdict" not in results.accuracy_table(ours.drop(columns="paper"), ["feature"], []).data


def test_the_power_sentence_names_the_n_a_test_needs_and_is_empty_when_powered():
    from wsm import experiments, htt

    page = experiments.page("s4_1_tiny_imagenet", "quick", check_data=False)
    small = pd.DataFrame(dict(kind="normalized", protocol=["classification", "retrieval"], n=[40, 8],
                              paper=[99.4, 99.3]))
    text = results.power_sentence(small, page)
    need = verdicts.n_needed(*verdicts.quoted_value(99.3))
    assert "Classification" not in text                   # n = 40 can test 99.4%
    assert f"Retrieval is underpowered at quick scale (n = 8; a test needs n ≥ {need})" in text
    assert f"{htt.runs_needed('retrieval', need, page.n_tasks)} runs per task" in text
    assert f"gives n = {htt.test_size('retrieval', 50, 100)}" in text
    assert results.power_sentence(small.assign(n=[4000, 4000]), page) == ""
