"""The summary table (wsm.summary) on a small hand-written results folder and the committed paper
slice; claim rows' verdicts (wsm.summary.claim_row)."""

import pandas as pd
import pytest

from wsm import data, paper, stats, summary, verdicts
from wsm.verdicts import CONSISTENT, INCONSISTENT, UNDERPOWERED

STANDIN = data.STANDIN_LABEL


def acc(correct, n, **row):
    lo, hi = stats.clopper_pearson(correct, n)
    return dict(ours=100 * correct / n, n=n, ci_low=100 * lo, ci_high=100 * hi, null_mean=25.0, null_low=12.5,
                null_high=37.5, p_null=0.01, **row)


def fig3(depth, panel, correct, n=100):
    return acc(correct, n, figure="Fig. 3", panel=panel, kind="normalized", depth=depth, dataset=STANDIN)


def quick_rows():
    rows = [dict(figure="Fig. 1", panel="a-b", ours=0.0, paper=0.0, n=1000, dataset="paper's example"),
            acc(99, 100, figure="Fig. 2", panel="a", kind="normalized", depth=1, paper=99.4, dataset="Tiny ImageNet"),
            acc(95, 100, figure="Fig. 2", panel="a", kind="normalized", depth=2, paper=99.7, dataset="Tiny ImageNet"),
            acc(2, 3, figure="Fig. 2", panel="a", kind="normalized", depth=3, paper=99.1, dataset="Tiny ImageNet")]
    # Fig. 3: eleven of the twelve chain cells, all at 99 of 100 (consistent with "about 98.0")
    rows += [fig3(d, p, 99) for p in "abcd" for d in (1, 2, 3)][:11]
    # Fig. 4: a claim with its verdict, one written before verdicts existed (agrees only)
    rows += [dict(figure="Fig. 4", panel="claim", architecture=z, ours=99.0, n=60, agrees="yes", verdict=CONSISTENT,
                  dataset=STANDIN) for z in ("Depth", "Res5", "Leaky")]
    rows += [dict(figure="Fig. 5", panel="claim", architecture="Adam", protocol="retrieval", ours=20.0, n=6,
                  agrees="yes", dataset=STANDIN)]
    # the ICLR claim: in-order chains high, the out-of-order one low (its verdict comes from these rows)
    iclr = dict(figure="ICLR Sec. 4.1 (bottom-up)", architecture="MLP-4", dataset="Tiny ImageNet")
    rows += [acc(100, 100, panel="in order", depth=d, **iclr) for d in (1, 2, 3)]
    rows += [acc(20, 100, panel="layer 2 from another run", depth=2, **iclr),
             dict(panel="claim", ours=100.0, n=300, agrees="yes", **iclr | dict(architecture="MLP-4, PlainNet-5"))]
    return pd.DataFrame(rows)


def slice_csv(path):
    """A committed slice in bench.paper_slice's columns: two Fig. 2 cells of panel a."""
    pd.DataFrame([dict(architecture="mlp4", protocol="classification", feature="C1", ours=100.0, ci_low=97.7,
                       ci_high=100.0, null_mean=26.4, p_null=0.048, decision="accept H0", paper=99.4, n=160, tasks=4,
                       clf_epochs=125, device="Test GPU"),
                  dict(architecture="mlp4", protocol="classification", feature="L2", ours=44.4, ci_low=36.5,
                       ci_high=52.4, null_mean=24.3, p_null=0.048, decision="reject H0", paper=2.4, n=160, tasks=4,
                       clf_epochs=125, device="Test GPU")]).to_csv(path, index=False)
    return path


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "profiles").mkdir()
    quick_rows().to_csv(tmp_path / "profiles" / "quick.csv", index=False)
    committed = (summary.Committed(slice_csv(tmp_path / "slice.csv"), ("Fig. 2",), summary.paper_slice),)
    return tmp_path, committed


SLICE = "paper settings, 4 of 50 tasks, Test GPU"


def row(table, figure, item):
    hit = table[(table.figure == figure) & (table.item == item)]
    assert len(hit) == 1, (figure, item)
    return hit.iloc[0]


def test_one_row_per_quoted_sentence(folder):
    table = summary.table(*folder[:1], committed=folder[1])
    sentences = {(r["figure"], r["sentence"]) for r in paper.REPORTED}
    assert len(table) == len(sentences) < len(paper.REPORTED)
    assert (table.figure == "Fig. 3").sum() == 1 and (table.figure == "Fig. 4").sum() == 2
    f3 = row(table, "Fig. 3", "chains C1-C3 of both architectures, both protocols: about 98.0%")
    assert f3["n (quick)"] == "100 (11 items)" and f3["verdict (quick)"] == CONSISTENT
    assert f3["missing"] == "quick (1 of 12)" and f3["paper's decision"] == "accept H0"
    assert f3["decision (quick)"] == "accept H0 (all 11)"


def test_the_stand_in_is_named_and_n_interval_null_are_shown(folder):
    table = summary.table(*folder[:1], committed=folder[1])
    f3 = table[table.figure == "Fig. 3"].iloc[0]
    assert f3.dataset == "CIFAR-100 STAND-IN (Tiny ImageNet classes)"
    c1 = row(table, "Fig. 2", "MLP-4 classification top-1, C1")
    assert c1.dataset == "Tiny ImageNet" and c1["n (quick)"] == "100" and c1["ours (quick)"] == "99.0"
    assert c1["95% CI (quick)"] == "94.6–100.0" and c1["null band (quick)"] == "25.0 [12.5–37.5]"
    assert c1["decision (quick)"] == "accept H0" and c1["paper's decision"] == "accept H0"


def test_n_to_test_is_the_fewest_n_that_could_confirm_the_sentence(folder):
    table = summary.table(*folder[:1], committed=folder[1])
    c1 = row(table, "Fig. 2", "MLP-4 classification top-1, C1")
    assert c1["n to test"] == str(verdicts.n_needed(paper.FIG2[("mlp4", "classification", "normalized")][0]))
    holds = row(table, "Fig. 4", "Depth, Res5 and Leaky zoos: the hypothesis still holds")
    assert holds["n to test"] == str(verdicts.n_needed_to_hold(0.05))
    assert row(table, "Fig. 1", "permuted 2-3-3 network computes the same output")["n to test"] == "—"


def test_verdicts_per_item(folder):
    table = summary.table(*folder[:1], committed=folder[1])
    assert row(table, "Fig. 1", "permuted 2-3-3 network computes the same output")["verdict (quick)"] == CONSISTENT
    assert row(table, "Fig. 2", "MLP-4 classification top-1, C1")["verdict (quick)"] == CONSISTENT
    assert row(table, "Fig. 2", "MLP-4 classification top-1, C2")["verdict (quick)"] == INCONSISTENT
    assert row(table, "Fig. 2", "MLP-4 classification top-1, C3")["verdict (quick)"] == UNDERPOWERED
    assert row(table, "Fig. 2", "MLP-4 classification top-1, L1")["verdict (quick)"] == summary.MISSING
    # claims: the verdict the page wrote; none written: not assessed; ICLR: from the page's rows
    assert row(table, "Fig. 4", "Depth, Res5 and Leaky zoos: the hypothesis still holds")["verdict (quick)"] == CONSISTENT
    adam = row(table, "Fig. 5", "Baseline-trained retrieval on the Adam zoo")
    assert adam["verdict (quick)"] == summary.NOT_ASSESSED and adam["paper's decision"] == "reject H0 (some chain)"
    iclr = row(table, "ICLR Sec. 4.1 (bottom-up)", "every chain classifies well; out-of-order chains do not")
    assert iclr["verdict (quick)"] == CONSISTENT


def test_a_committed_run_is_its_own_columns_labelled_with_its_scale(folder):
    table = summary.table(*folder[:1], committed=folder[1])
    assert summary.run_names(table) == ["quick", SLICE]
    c1 = row(table, "Fig. 2", "MLP-4 classification top-1, C1")
    assert c1[f"verdict ({SLICE})"] == CONSISTENT and c1[f"95% CI ({SLICE})"] == "97.7–100.0"
    assert c1[f"null band ({SLICE})"] == "26.4"
    assert row(table, "Fig. 2", "MLP-4 classification top-1, L2")[f"verdict ({SLICE})"] == INCONSISTENT
    assert row(table, "Fig. 2", "MLP-4 classification top-1, C2")[f"verdict ({SLICE})"] == summary.MISSING
    # figures the slice does not cover are not its gaps
    f3 = table[table.figure == "Fig. 3"].iloc[0]
    assert f3[f"verdict ({SLICE})"] == summary.NOT_RUN and SLICE not in f3.missing


def test_the_tally_per_run_and_page(folder):
    table = summary.table(*folder[:1], committed=folder[1])
    counts = summary.tally(table)
    assert list(counts.index[:3]) == ["all", "Fig. 1", "Fig. 2"]
    assert counts.loc["Fig. 2", ("quick", CONSISTENT)] == 1
    assert counts.loc["Fig. 2", ("quick", INCONSISTENT)] == 1
    assert counts.loc["Fig. 2", ("quick", UNDERPOWERED)] == 1
    assert counts.loc["Fig. 2", ("quick", summary.MISSING)] == 21
    assert counts.loc["all", ("quick", CONSISTENT)] == 5          # Fig. 1, Fig. 2 C1, Fig. 3, Fig. 4 holds, ICLR
    assert counts.loc["all"].xs("quick").sum() == len(table)
    # the slice is counted on the sentences it covers only (Fig. 2's 24 numbers)
    assert counts.loc["all"].xs(SLICE).sum() == 24 and counts.loc["Fig. 3"].xs(SLICE).sum() == 0
    assert counts.loc["Fig. 2", (SLICE, CONSISTENT)] == 1 and counts.loc["Fig. 2", (SLICE, INCONSISTENT)] == 1
    assert summary.headline(table, "quick").startswith(f"Of {len(table)} quoted sentences under quick: 5 consistent, ")
    assert "caption" in summary.styled(table).to_html()
    assert summary.conclusion(table, "smoke").startswith("**Conclusion.** No results of the `smoke` profile")


def test_the_committed_paper_slice_reads():
    """The slice committed under book/benchmarks: Fig. 2's 24 cells, labelled with its scale."""
    (entry,) = [c for c in summary.COMMITTED if c.path.name == "paper_slice.csv"]
    label, rows = entry.read(entry.path)
    assert label.startswith("paper settings, ") and " of 50 tasks, " in label
    assert len(rows) == 24 and set(rows.figure) == {"Fig. 2"} and set(rows.panel) == set("abcd")
    for item in (r for r in paper.REPORTED if r["figure"] == "Fig. 2"):
        hit = summary._select(rows, item["match"])
        assert len(hit) == 1 and hit.paper.iloc[0] == item["value"], item["item"]


# ---------------------------------------------------------------- claims (Figs. 4-5)
def _table(**zoos):
    """A percent table like a Fig. 4/5 page's, with exact intervals: zoo -> [(protocol, depth, correct, n)]."""
    rows = []
    for zoo, cs in zoos.items():
        for protocol, depth, correct, n in cs:
            lo, hi = (100 * b for b in stats.clopper_pearson(correct, n))
            rows.append(dict(zoo=zoo, kind="normalized", protocol=protocol, depth=depth, ours=100 * correct / n,
                             n=n, ci_low=lo, ci_high=hi,
                             decision="accept H0" if 1 - correct / n < 0.05 else "reject H0"))
    return pd.DataFrame(rows)


def test_claim_rows_carry_the_verdict():
    ours = _table(Baseline=[("classification", d, 100, 100) for d in (1, 2, 3)],
                  Depth=[("classification", d, 99, 100) for d in (1, 2, 3)],
                  Small=[("classification", d, 3, 3) for d in (1, 2, 3)],
                  Res5=[("classification", d, 40, 100) for d in (1, 2, 3)])
    depth = summary.claim_row(ours, "Fig. 4", "Depth", "holds")
    assert depth["agrees"] == "yes" and depth["verdict"] == CONSISTENT
    # 3 of 3 accepts H0 by the paper's rule on the point estimate, but cannot tell
    small = summary.claim_row(ours, "Fig. 4", "Small", "holds")
    assert small["agrees"] == "yes" and small["verdict"] == UNDERPOWERED
    drop = summary.claim_row(ours, "Fig. 5", "Res5", "fails", protocol="classification", below=["Depth"])
    assert drop["agrees"] == "yes" and drop["verdict"] == CONSISTENT
    wrong = summary.claim_row(ours, "Fig. 4", "Depth", "fails", below=["Baseline"])
    assert wrong["agrees"] == "no" and wrong["verdict"] == INCONSISTENT
    # without interval columns the intervals come from ours and n
    bare = ours.drop(columns=["ci_low", "ci_high"])
    assert summary.claim_row(bare, "Fig. 4", "Small", "holds")["verdict"] == UNDERPOWERED
