"""The summary (wsm.report.summary): one row per claim with its cells beneath, per run; the tally that counts
no degenerate or cross-setting cell; the committed paper slice; findings; claim rows' verdicts."""

import pandas as pd
import pytest

from wsm.maths import stats, verdicts
from wsm.zoos import data
from wsm.report import claims, summary

STANDIN = data.STANDIN_LABEL
QUICK_FIG2 = claims.Setting("tiny-imagenet", 10, 10, 3)
QUICK_T1 = claims.Setting("namedata", 9, 15, 1_500, 0.6, 5 / 9, 0.2)
SLICE = "the paper's zoos on 4 of 50 tasks, our classifier (Test GPU)"


def acc(correct, n, setting, **row):
    lo, hi = stats.clopper_pearson(correct, n)
    return dict(ours=100 * correct / n, n=n, ci_low=100 * lo, ci_high=100 * hi, null_mean=25.0, null_low=12.5,
                null_high=37.5, p_null=0.01, null_repeats=100, profile="quick", data=setting.data,
                tasks=setting.tasks, runs=setting.runs, epochs=setting.epochs, train_fraction=setting.train_fraction,
                retrieval_train_fraction=setting.retrieval_train_fraction, query_fraction=setting.query_fraction,
                chance=setting.chance(row.get("protocol", "classification")), **row)


def quick_rows():
    rows = [dict(figure="Fig. 1", panel="a-b", ours=0.0, paper=0.0, n=1000, dataset="paper's example", profile="quick")]
    fig2 = dict(figure="Fig. 2", architecture="MLP-4", protocol="classification", dataset="Tiny ImageNet")
    rows += [acc(38, 40, QUICK_FIG2, kind="normalized", depth=d, p_paired=1e-4, p_paired_rev=1.0, **fig2)
             for d in (1, 2, 3)]
    rows += [acc(c, 40, QUICK_FIG2, kind="unnormalized", depth=d, **fig2) for d, c in ((1, 20), (2, 4), (3, 0))]
    # Table 1 at the paper's tasks, reduced runs and steps: its numbers are compared one-sidedly
    t1 = dict(figure="Table 1", architecture="GRU-2", depth=1, dataset="NameData")
    rows += [acc(54, 54, QUICK_T1, protocol="classification", kind="normalized", **t1),
             acc(20, 54, QUICK_T1, protocol="classification", kind="unnormalized", **t1),
             acc(12, 12, QUICK_T1, protocol="retrieval", kind="normalized", **t1),
             acc(3, 12, QUICK_T1, protocol="retrieval", kind="unnormalized", **t1)]
    # Fig. 3 on the stand-in: nothing counted
    standin = claims.Setting("cifar100-standin", 8, 5, 2)
    rows += [acc(16, 16, standin, figure="Fig. 3", architecture="MLP-4", protocol="classification",
                 kind="normalized", depth=d, dataset=STANDIN) for d in (1, 2, 3)]
    return pd.DataFrame(rows)


def slice_csv(path):
    """A committed slice in bench.paper_slice's columns: two Fig. 2 cells of panel a, one retrieval cell."""
    common = dict(null_mean=26.4, p_null=0.048, null_repeats=20, n=160, tasks=4, clf_epochs=125, device="Test GPU")
    pd.DataFrame([dict(architecture="mlp4", protocol="classification", feature="C3", ours=90.0, ci_low=84.3,
                       ci_high=94.2, decision="reject H0", paper=99.1, **common),
                  dict(architecture="mlp4", protocol="classification", feature="L2", ours=44.4, ci_low=36.5,
                       ci_high=52.4, decision="reject H0", paper=2.4, **common),
                  dict(architecture="mlp4", protocol="retrieval", feature="C1", ours=50.0, ci_low=33.8,
                       ci_high=66.2, decision="reject H0", paper=99.3, **common | dict(n=40))]
                 ).to_csv(path, index=False)
    return path


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "profiles").mkdir()
    quick_rows().to_csv(tmp_path / "profiles" / "quick.csv", index=False)
    committed = (summary.Committed(slice_csv(tmp_path / "slice.csv"), ("Fig. 2",), summary.paper_slice),)
    return tmp_path, committed


def row(table, key):
    return table.iloc[[c.key for c in claims.CLAIMS].index(key)]


def test_one_row_per_claim_as_the_paper_words_it(folder):
    table = summary.table(*folder[:1], committed=folder[1])
    assert len(table) == len(claims.CLAIMS)
    assert summary.run_names(table) == ["quick", SLICE]
    assert {"the paper's setting", "quoted", "kind", "why (quick)", f"verdict ({SLICE})"} <= set(table.columns)
    fig2 = row(table, "fig2-classification-normalized")
    assert fig2["the paper's setting"].startswith("50 tasks × 100 runs, 100 epochs, chance 2%, n = 2000")
    assert "99.4%, 99.7%, and 99.1%" in fig2.quoted


def test_no_degenerate_or_cross_setting_cell_is_counted(folder):
    table = summary.table(*folder[:1], committed=folder[1])
    # quick's Fig. 2 at 10 tasks: the paper's numbers are not tested, its predictions are
    assert row(table, "fig2-classification-normalized")["verdict (quick)"] == verdicts.NOT_TESTED
    assert "chance 10%" in row(table, "fig2-classification-unnormalized")["why (quick)"]
    assert row(table, "Fig. 2-layer")["verdict (quick)"] == verdicts.SUPPORTED
    assert row(table, "Fig. 2-null")["verdict (quick)"] == verdicts.SUPPORTED
    # Fig. 3 on the stand-in: not tested, predictions included
    assert row(table, "fig3")["verdict (quick)"] == verdicts.NOT_TESTED
    assert row(table, "Fig. 3-null")["verdict (quick)"] == verdicts.NOT_TESTED
    # Table 1 at the paper's tasks: compared, at a reduced setting
    t1 = row(table, "table1-normalized")        # 54 of 54 reproduce 100%; 12 of 12 queries cannot tell 95.7%
    assert (t1["verdict (quick)"] == verdicts.INCONCLUSIVE
            and t1["why (quick)"].startswith("1 reproduced, 1 inconclusive"))
    # the slice: 4 tasks, retrieval trained on 2: nothing at the paper's setting
    assert row(table, "fig2-retrieval-normalized")[f"verdict ({SLICE})"] == verdicts.NOT_TESTED
    assert "train on 2 tasks" in row(table, "fig2-retrieval-normalized")[f"why ({SLICE})"]
    assert row(table, "fig3")[f"verdict ({SLICE})"] == summary.NOT_RUN        # the slice covers Fig. 2 only
    counts = summary.tally(table)
    at = counts.loc[SLICE, "at the paper's setting"]
    assert at[verdicts.REPRODUCED] == at[verdicts.DIFFERENT] == at[verdicts.INCONCLUSIVE] == 0
    assert counts.loc["quick", ("at the paper's setting", verdicts.DIFFERENT)] == 0
    assert counts.loc["quick", ("predictions at any scale", verdicts.SUPPORTED)] >= 2


def test_the_cells_beneath(folder):
    cells = summary.cells(*folder[:1], committed=folder[1])
    c3 = cells[(cells.run == SLICE) & (cells.cell == "MLP-4 C3")]
    assert c3["95% CI"].iloc[0] == "84.3–94.2" and c3.verdict.iloc[0] == verdicts.NOT_TESTED
    assert set(cells.verdict) <= set(verdicts.ORDER)
    assert "paper n = 360" in cells[(cells.run == "quick") & (cells.cell == "C1 classification")].why.iloc[0]


def test_findings_say_plainly_what_lies_below_the_papers_bar(folder):
    found = summary.findings(*folder[:1], committed=folder[1])
    assert len(found) == 1                     # the slice's MLP-4 C3; its degenerate retrieval cell is no finding
    assert "MLP-4 C3 classification is 90.0% [84.3, 94.2] at 4 tasks (chance 25%)" in found[0]
    assert "wholly below the paper's bar of 95%" in found[0]


def test_headline_and_conclusion(folder):
    table = summary.table(*folder[:1], committed=folder[1])
    assert summary.headline(table, "quick").startswith(f"Under quick ({len(claims.CLAIMS)} claims): at the paper's")
    assert "caption" in summary.styled(table).to_html()
    assert summary.conclusion(table, "smoke").startswith("**Conclusion.** No results of the `smoke` profile")
    assert "Without a number of ours for" in summary.conclusion(table, "quick")       # Fig. 4, ... were not run
    never = summary.untested_everywhere(table)
    tested = {claims.CLAIMS[i].key for i in range(len(table)) if i not in never.index}
    assert {"table1-normalized", "Fig. 2-null"} <= tested and "fig4-holds" not in tested


def test_the_committed_paper_slice_reads():
    (entry,) = [c for c in summary.COMMITTED if c.path.name == "paper_slice.csv"]
    label, rows = entry.read(entry.path)
    assert label.startswith("the paper's zoos on 4 of 50 tasks, our classifier")
    assert set(claims.SETTING_COLUMNS) <= set(rows.columns) and (rows.tasks == 4).all()
    for claim in claims.of_figure("Fig. 2"):
        for cell in (claim.cells if claim.kind == claims.NUMBER else ()):
            assert len(claims.select(rows, cell.match)) == 1, cell.label


def test_claim_rows_carry_the_verdict():
    def cells(name, counts, protocol="classification"):
        return [dict(zoo=name, kind="normalized", protocol=protocol, depth=d, n=n, ours=100 * c / n,
                     decision=verdicts.decision(100 * c / n, 0.05),
                     **dict(zip(("ci_low", "ci_high"), [100 * b for b in stats.clopper_pearson(c, n)])))
                for d, (c, n) in enumerate(counts, start=1)]
    ours = pd.DataFrame(cells("Depth", [(160, 160)] * 3) + cells("Small", [(3, 3)] * 3)
                        + cells("Res5", [(60, 100)] * 3) + cells("Baseline", [(99, 100)] * 3))
    depth = summary.claim_row(ours, "Fig. 4", "Depth", "holds")
    assert depth["verdict"] == verdicts.REPRODUCED and depth["agrees"] == "yes"
    assert summary.claim_row(ours, "Fig. 4", "Small", "holds")["verdict"] == verdicts.INCONCLUSIVE
    drop = summary.claim_row(ours, "Fig. 5", "Res5", "fails", protocol="classification", below=["Depth"])
    assert drop["verdict"] == verdicts.REPRODUCED
    wrong = summary.claim_row(ours, "Fig. 4", "Depth", "fails", below=["Baseline"])
    assert wrong["verdict"] == verdicts.DIFFERENT


def test_the_worded_claims_rows_come_from_the_claims():
    """Figs. 4-5's pages write one row per worded claim and zoo, with the rule and contrast of wsm.report.claims."""
    def cells(name, c, protocol):
        lo, hi = (100 * b for b in stats.clopper_pearson(c, 40))
        return [dict(zoo=name, kind="normalized", protocol=protocol, depth=d, n=40, ours=100 * c / 40, ci_low=lo,
                     ci_high=hi, decision=verdicts.decision(100 * c / 40, 0.05)) for d in (1, 2, 3)]
    zoos = {"Baseline": 40, "Depth": 40, "Res5": 10, "Leaky": 40, "Adam": 12}
    ours = pd.DataFrame([r for z, c in zoos.items() for p in ("classification", "retrieval") for r in cells(z, c, p)])
    fig4 = summary.claim_rows(ours, "Fig. 4", setting=lambda zoo: {"tasks": 50})
    assert sorted(fig4.architecture) == ["Adam", "Depth", "Leaky", "Res5"] and (fig4.tasks == 50).all()
    assert fig4.set_index("architecture").verdict["Adam"] == verdicts.REPRODUCED     # below the bar and the Baseline
    fig5 = summary.claim_rows(ours.assign(zoo=ours.zoo), "Fig. 5")
    assert len(fig5) == 8 and set(fig5.protocol) == {"classification", "retrieval"}
    res5 = fig5[(fig5.architecture == "Res5") & (fig5.protocol == "classification")]
    assert res5.verdict.iloc[0] == verdicts.REPRODUCED and "drops" in res5.paper.iloc[0]


def test_a_reduced_zoo_below_the_bar_is_no_finding(tmp_path):
    """quick's Fig. 2 chains at 3 epochs and 10 runs miss the paper's bar: that tests nothing."""
    (tmp_path / "profiles").mkdir()
    pd.DataFrame([acc(30, 40, QUICK_FIG2, figure="Fig. 2", architecture="MLP-4", protocol="classification",
                      kind="normalized", depth=1)]).to_csv(tmp_path / "profiles" / "quick.csv", index=False)
    assert summary.findings(tmp_path, committed=()) == []


def test_the_committed_study_is_a_run_of_the_zoo_size_claim():
    (entry,) = [c for c in summary.COMMITTED if c.path.name == "study.csv"]
    label, rows = entry.read(entry.path)
    assert label.startswith("the zoo-size study (10 tasks x 12 runs") and (rows.figure == "Zoo size").all()
    j = claims.judge(next(c for c in claims.CLAIMS if c.key == "zoo-size-trend"), rows)
    # 2 archs x 2 protocols x 3 chains x 2 axes
    assert j.verdict in verdicts.FOR_PREDICTIONS[:3] and len(j.cells) == 24
    assert not ((rows.protocol == "retrieval") & (rows.tasks == 4)).any()      # degenerate points left out


PAPER_T1 = claims.Setting("namedata", 9, 100, 10_000, 0.6, 5 / 9, 0.2)


def test_table1_at_the_papers_settings_is_judged_against_the_papers_numbers(tmp_path):
    """bench.paper_table1's file (the page's own rows under the paper profile) is a committed run whose
    setting is the paper's: Table 1's numbers are reproduced or not there, not 'not tested'."""
    t1 = dict(figure="Table 1", architecture="GRU-2", depth=1, dataset="NameData",
              scale="9 tasks x 100 runs per zoo; device cpu")
    cells = [acc(360, 360, PAPER_T1, protocol="classification", kind="normalized", **t1),
             acc(62, 360, PAPER_T1, protocol="classification", kind="unnormalized", **t1),
             acc(77, 80, PAPER_T1, protocol="retrieval", kind="normalized", **t1),
             acc(17, 80, PAPER_T1, protocol="retrieval", kind="unnormalized", **t1)]
    pd.DataFrame([c | dict(profile="paper") for c in cells]).to_csv(tmp_path / "table1_paper.csv", index=False)
    entry = summary.Committed(tmp_path / "table1_paper.csv", ("Table 1",), summary.table1)
    (tmp_path / "results" / "profiles").mkdir(parents=True)
    table = summary.table(tmp_path / "results", committed=(entry,))
    run = "Table 1 at the paper's settings (9 tasks x 100 runs, 10,000 steps, CPU)"
    assert summary.run_names(table) == [run]
    assert row(table, "table1-normalized")[f"verdict ({run})"] == verdicts.REPRODUCED
    assert row(table, "table1-unnormalized")[f"verdict ({run})"] == verdicts.REPRODUCED
    assert row(table, "fig2-classification-normalized")[f"verdict ({run})"] == summary.NOT_RUN
    (c,) = [c for c in summary.COMMITTED if c.path.name == "table1_paper.csv"]
    assert c.read is summary.table1
