"""The results CSV and every page's accuracy table (wsm.report.results)."""

import numpy as np
import pandas as pd

from wsm.maths import stats, verdicts
from wsm.report import claims, results

FIG2 = claims.paper_setting("s4_1_tiny_imagenet", "mlp4")
SETTING = dict(data=FIG2.data, tasks=FIG2.tasks, runs=FIG2.runs, epochs=FIG2.epochs, train_fraction=0.6,
               retrieval_train_fraction=0.6, query_fraction=0.2)


def acc(correct, n, **row):
    lo, hi = stats.clopper_pearson(correct, n)
    return dict(ours=100 * correct / n, n=n, ci_low=100 * lo, ci_high=100 * hi, null_mean=25.0, null_low=12.5,
                null_high=37.5, p_null=0.01, **row)


def test_results_csv_keeps_the_setting_and_the_claims_verdict(tmp_path):
    rows = [dict(figure="Fig. 2", panel="a", architecture="MLP-4", depth=1, kind="normalized",
                 protocol="classification", metric="top-1", profile="quick", dataset="Tiny ImageNet", scale="s",
                 chance=2.0, p_paired=0.001, p_paired_rev=1.0, null_repeats=100, hits=[True], **SETTING,
                 **acc(99, 100, paper=99.4)),
            dict(figure="Fig. 4", panel="claim", architecture="Adam", depth=np.nan, kind="normalized", protocol="both",
                 metric="mean", ours=30.0, paper=np.nan, n=10, profile="quick", dataset="d", scale="s", agrees="yes",
                 verdict=verdicts.INCONCLUSIVE)]
    out = pd.read_csv(results.write(rows, tmp_path, "page"))
    assert set(claims.SETTING_COLUMNS) <= set(out.columns)
    assert {"chance", "p_paired", "p_paired_rev", "null_repeats"} <= set(out.columns)
    assert "hits" not in out.columns                              # per-network results stay out of the CSV
    assert list(out.verdict.fillna("")) == ["", verdicts.INCONCLUSIVE]   # only a worded claim's row has one
    assert claims.Setting.of_row(out.iloc[0]) == FIG2


def test_every_pages_accuracy_table_has_the_verdict_and_the_caption():
    cell = dict(figure="Fig. 2", architecture="MLP-4", protocol="classification", depth=1, decision="accept H0",
                p_error_below_alpha=0.04, profile="quick", chance=2.0, **SETTING)
    ours = pd.DataFrame([acc(1990, 2000, feature="C1", kind="normalized", paper=99.4, **cell),
                         acc(40, 2000, feature="L1", kind="unnormalized", paper=62.9,
                             **cell | dict(decision="reject H0"))])
    styler = results.accuracy_table(ours, ["feature"], ["paper"])
    shown = styler.data
    assert list(shown["vs the paper's number"]) == [verdicts.REPRODUCED, verdicts.DIFFERENT]
    assert list(shown.columns[-2:]) == ["decision", "vs the paper's number"] and "chance" in shown
    assert shown["95% CI"].iloc[0] == "99.1–99.8"        # Clopper-Pearson of 1990 of 2000
    assert "one zoo, one split and one trained weight classifier" in styler.to_html()
    # rows that name no figure: no verdict column
    assert "vs the paper's number" not in results.accuracy_table(ours.drop(columns="figure"), ["feature"], []).data


def test_the_null_sentence_reads_cells_below_their_null_as_chance_unless_too_many():
    cells = pd.DataFrame(dict(p_null=[0.5, 0.01, 0.3], p_null_below=[0.01, 0.9, 0.5], null_mean=[10.0, 10.0, 10.0],
                              feature=["L3", "C1", "L2"], architecture="MLP-4", protocol="classification"))
    text = results.null_sentence(cells, 100)
    assert ("1 of 3 cells beat their null" in text
            and "1 lies below its null at p ≤ 0.05 (MLP-4 classification L3)" in text)
    assert f"{1 - 0.95 ** 3:.0%}" in text and "read as chance level" in text
    assert "below" not in results.null_sentence(cells.assign(p_null_below=0.5), 100)
    assert results.null_sentence(cells, 0) == ""
