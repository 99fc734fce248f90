"""The paper's claims as data (wsm.report.claims) and how each is judged at the setting that can test it."""

import numpy as np
import pandas as pd
import pytest

from wsm.core import paper, profiles
from wsm.maths import stats, verdicts
from wsm.report import claims
from wsm.core.errors import WsmError

FIG2 = claims.paper_setting("s4_1_tiny_imagenet", "mlp4")


def row(correct, n, setting: claims.Setting, **cols):
    """A results row of ``correct`` of ``n`` measured at ``setting``."""
    lo, hi = stats.clopper_pearson(correct, n)
    return dict(ours=100 * correct / n, n=n, ci_low=100 * lo, ci_high=100 * hi, profile="quick",
                data=setting.data, tasks=setting.tasks, runs=setting.runs, epochs=setting.epochs,
                train_fraction=setting.train_fraction, retrieval_train_fraction=setting.retrieval_train_fraction,
                query_fraction=setting.query_fraction, **cols)


def fig2_rows(setting, correct_of_n, protocol="classification", kind="normalized", arch="MLP-4"):
    return pd.DataFrame([row(c, n, setting, figure="Fig. 2", architecture=arch, protocol=protocol, kind=kind,
                             depth=d, chance=setting.chance(protocol))
                         for d, (c, n) in enumerate(correct_of_n, start=1)])


def claim(key):
    return next(c for c in claims.CLAIMS if c.key == key)


def test_every_number_quotes_the_paper_and_its_setting():
    numbers = [c for c in claims.CLAIMS if c.kind == claims.NUMBER]
    assert {c.figure for c in numbers} == {"Fig. 2", "Fig. 3", "Table 1", "Table 2"}
    fig2 = [cell for c in numbers if c.figure == "Fig. 2" for cell in c.cells]
    assert len(fig2) == 24 and {cell.paper_n for cell in fig2} == {2000, 400}   # "the test set contains 2,000"
    for c in numbers:
        for cell in c.cells:
            assert f"{cell.value}%" in c.quote or c.figure == "Fig. 3"            # the words the number comes from
    assert claim("fig3").tolerance == verdicts.APPROXIMATE and "about 98.0%" in claim("fig3").quote
    t1 = claim("table1-normalized")
    assert {cell.paper_n for cell in t1.cells} == {360, 80}                     # 9 x 40; 4 unseen x 20 queries
    assert t1.cells[0].setting == claims.Setting("namedata", 9, 100, 10_000, 0.6, 5 / 9, 0.2)
    # the settings come from the paper profile, their one home
    p = profiles.parameters("paper", "s4_1_tiny_imagenet")
    assert (FIG2.tasks, FIG2.runs, FIG2.epochs) == (p["n_tasks"], p["runs"], p["mlp_epochs"])
    assert claims.paper_setting("s4_1_tiny_imagenet", "plainnet5").epochs == p["cnn_epochs"]


def test_one_claim_per_sentence_of_the_paper():
    keys = [c.key for c in claims.CLAIMS]
    assert len(keys) == len(set(keys))
    assert sum(c.figure == "Fig. 2" and c.kind == claims.NUMBER for c in claims.CLAIMS) == 4   # its four sentences
    assert sum(c.figure == "Fig. 3" and c.kind == claims.NUMBER for c in claims.CLAIMS) == 1   # one "about 98.0%"
    with pytest.raises(WsmError, match="no claim about 'Fig. 9'"):
        claims.of_figure("Fig. 9")


def test_at_the_papers_setting_the_number_is_compared():
    rows = fig2_rows(FIG2, [(1990, 2000), (1994, 2000), (1982, 2000)]).assign(architecture="MLP-4")
    rows = pd.concat([rows, fig2_rows(claims.paper_setting("s4_1_tiny_imagenet", "plainnet5"),
                                      [(1992, 2000)] * 3, arch="PlainNet-5")])
    j = claims.judge(claim("fig2-classification-normalized"), rows)
    assert j.verdict == verdicts.REPRODUCED and all(c["verdict"] == verdicts.REPRODUCED for c in j.cells)
    assert "paper n = 2000" in j.cells[0]["why"]


def test_a_layer_at_chance_under_another_number_of_tasks_gets_no_verdict():
    """Chance 10% (10 tasks) against the paper's 2.4% at chance 2% (50 tasks): not tested, never
    'materially different'."""
    ten = claims.Setting("tiny-imagenet", 10, 10, 3)
    rows = fig2_rows(ten, [(4, 40), (4, 40), (4, 40)], kind="unnormalized")
    j = claims.judge(claim("fig2-classification-unnormalized"), rows)
    mlp = [c for c in j.cells if c["label"].startswith("MLP-4")]
    assert {c["verdict"] for c in mlp} == {verdicts.NOT_TESTED}
    assert "at 10 tasks (chance 10%), the paper at 50 (chance 2%)" in mlp[0]["why"]
    assert verdicts.DIFFERENT not in [c["verdict"] for c in j.cells]


def test_the_stand_in_and_a_smoke_run_test_nothing():
    standin = claims.Setting("cifar100-standin", 50, 100, 50)
    rows = pd.DataFrame([row(99, 100, standin, figure="Fig. 3", architecture="MLP-4", protocol="classification",
                             kind="normalized", depth=1)])
    j = claims.judge(claim("fig3"), rows)
    assert j.cells[0]["verdict"] == verdicts.NOT_TESTED and "STAND-IN" in j.cells[0]["why"]
    smoke = fig2_rows(FIG2, [(3, 3)] * 3).assign(profile="smoke")
    assert claims.judge(claim("fig2-classification-normalized"), smoke).verdict == verdicts.NOT_TESTED
    assert claims.judge(claim("Fig. 2-null"), smoke).why.startswith("a smoke run")


def test_a_reduced_setting_is_one_sided():
    quick = claims.Setting("namedata", 9, 15, 1_500, 0.6, 5 / 9, 0.2)
    rows = pd.DataFrame([row(54, 54, quick, figure="Table 1", protocol="classification", kind="normalized", depth=1),
                         row(5, 12, quick, figure="Table 1", protocol="retrieval", kind="normalized", depth=1)])
    j = claims.judge(claim("table1-normalized"), rows)
    by = {c["label"]: c for c in j.cells}
    assert by["C1 classification"]["verdict"] == verdicts.REPRODUCED
    assert "reduced" in by["C1 classification"]["why"]
    assert by["C1 retrieval"]["verdict"] == verdicts.NOT_TESTED          # below the paper's: tests nothing
    assert j.verdict == verdicts.REPRODUCED and "1 not tested" in j.why


def test_retrieval_on_too_few_tasks_is_not_tested():
    four = claims.Setting("tiny-imagenet", 4, 100, 100)
    rows = fig2_rows(four, [(20, 40)] * 3, protocol="retrieval")
    j = claims.judge(claim("fig2-retrieval-normalized"), rows)
    assert {c["verdict"] for c in j.cells if "MLP" in c["label"]} == {verdicts.NOT_TESTED}
    assert "train on 2 tasks" in j.cells[0]["why"]
    # a run that left the degenerate protocol out: the cells are not tested, not missing
    cls = fig2_rows(four, [(150, 160)] * 3)
    j = claims.judge(claim("fig2-retrieval-normalized"), cls)
    assert verdicts.MISSING not in {c["verdict"] for c in j.cells if "MLP" in c["label"]}
    # and no prediction reads a degenerate retrieval cell
    null = claims.judge(claim("Fig. 2-null"), rows.assign(p_null=0.01, null_repeats=100, null_high=30.0))
    assert {c["verdict"] for c in null.cells} == {verdicts.NOT_TESTED}


def test_the_predictions_at_any_scale():
    ten = claims.Setting("tiny-imagenet", 10, 10, 3)
    chains = fig2_rows(ten, [(38, 40), (36, 40), (4, 40)]).assign(p_null=[0.01, 0.01, 0.3], null_repeats=100,
                                                                   null_high=[20.0, 20.0, 30.0],
                                                                    p_paired=[1e-6, 1e-4, 0.4],
                                                                    p_paired_rev=[1.0, 1.0, 0.6])
    layers = fig2_rows(ten, [(20, 40), (4, 40), (0, 40)], kind="unnormalized")
    rows = pd.concat([chains, layers], ignore_index=True)
    null = claims.judge(claim("Fig. 2-null"), rows)
    assert [c["verdict"] for c in null.cells] == [verdicts.SUPPORTED, verdicts.SUPPORTED, verdicts.CONTRADICTED]
    assert null.verdict == verdicts.CONTRADICTED
    layer = claims.judge(claim("Fig. 2-layer"), rows)
    assert [c["verdict"] for c in layer.cells] == [verdicts.SUPPORTED, verdicts.SUPPORTED, verdicts.INCONCLUSIVE]
    chance = claims.judge(claim("Fig. 2-chance"), rows)
    assert len(chance.cells) == 2                                  # L2 and L3: the deeper layers only
    assert chance.verdict == verdicts.INCONCLUSIVE                 # 40 networks cannot tell 10% from 20%


def test_paper_values_and_cell_verdicts_for_a_page():
    rows = fig2_rows(FIG2, [(1990, 2000)] * 3)
    assert list(claims.paper_values(rows, "Fig. 2")) == paper.FIG2[("mlp4", "classification", "normalized")]
    assert claims.cell_verdicts(rows) == [verdicts.REPRODUCED] * 3
    other = fig2_rows(claims.Setting("tiny-imagenet", 10, 10, 3), [(40, 40)] * 3)
    assert claims.cell_verdicts(other) == [verdicts.NOT_TESTED] * 3
    assert claims.cell_verdicts(other.assign(figure="Beyond")) == ["—"] * 3


def test_the_conclusion_names_every_claim_of_the_figure_with_its_verdict():
    ten = claims.Setting("tiny-imagenet", 10, 10, 3)
    rows = fig2_rows(ten, [(38, 40)] * 3)
    text = claims.conclusion("Fig. 2", rows)
    assert text.startswith("**Conclusion (quick profile, Tiny ImageNet).**")
    for c in claims.of_figure("Fig. 2"):
        assert c.sentence in text
    assert "not tested" in text and "chance 10%" in text


def test_a_setting_recorded_without_its_columns_is_not_tested():
    rows = pd.DataFrame([dict(figure="Fig. 2", architecture="MLP-4", protocol="classification", kind="normalized",
                              depth=1, ours=99.0, n=100, ci_low=94.0, ci_high=100.0, profile="quick")])
    j = claims.judge(claim("fig2-classification-normalized"), rows)
    assert j.cells[0]["verdict"] == verdicts.NOT_TESTED and j.cells[0]["why"] == "the run records no setting"
    assert np.isnan(j.cells[0].get("chance", np.nan))


def test_a_split_read_back_from_the_results_table_is_the_same_split():
    """The table prints fractions to 4 digits (5/9 -> 0.5556): the same split all the same."""
    paper = claims.paper_setting("s4_3_namedata")
    printed = claims.Setting("namedata", 9, 15, 1_500, 0.6, 0.5556, 0.2)
    assert paper.relation(printed, "retrieval")[0] == "reduced"
    other = claims.Setting("namedata", 9, 15, 1_500, 0.6, 0.7, 0.2)           # 6 training tasks, not 5
    assert paper.relation(other, "retrieval") == ("other", "retrieval trained on 6 tasks, the paper's on 5")


def test_the_trend_with_runs_and_epochs_is_a_prediction_on_the_zoo_size_rows():
    def point(axis, epoch, runs, correct, n=40, depth=1):
        lo, hi = stats.clopper_pearson(correct, n)
        return dict(figure="Zoo size", panel=f"{axis}: {epoch} epochs, 10 tasks x {runs} runs", architecture="MLP-4",
                    protocol="classification", kind="normalized", depth=depth, ours=100 * correct / n, n=n,
                    ci_low=100 * lo, ci_high=100 * hi, profile="study")
    rows = pd.DataFrame([point("runs", 10, 3, 10), point("runs", 10, 12, 38),        # up, intervals apart
                         point("epochs", 1, 12, 30), point("epochs", 10, 12, 32),    # up, within the intervals
                         point("tasks", 10, 12, 38)])                                 # the tasks axis: not this claim
    j = claims.judge(claim("zoo-size-trend"), rows)
    assert [c["verdict"] for c in j.cells] == [verdicts.SUPPORTED, verdicts.INCONCLUSIVE]
    assert j.cells[0]["label"] == "MLP-4 classification C1, runs 3 → 12"
    down = pd.DataFrame([point("epochs", 1, 12, 38), point("epochs", 10, 12, 10)])
    assert claims.judge(claim("zoo-size-trend"), down).verdict == verdicts.CONTRADICTED
