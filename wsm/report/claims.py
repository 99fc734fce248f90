"""The paper's claims as data, and how each is judged under one run (:func:`judge`).

Each sentence of both paper versions that the book tests is one :class:`Claim`: its quote and source,
what kind of claim it is, the numbers it reports (:class:`Cell`, each with the results row that holds
ours) and the setting they were measured at (:class:`Setting`: dataset, tasks and so chance, runs,
schedule, split fractions and the paper's ``n``). Pages, the results table, the summary and the first
page read them from :data:`CLAIMS`; no notebook restates a value or an expectation. The rules are
:mod:`wsm.maths.verdicts`'; :func:`conclusion` writes every page's closing paragraph.

Kinds of claim:

* :data:`NUMBER` -- numbers the paper reports (one sentence of its text, e.g. Fig. 2's four); judged
  against ours only where our setting is the paper's (:meth:`Setting.relation`), by
  :func:`wsm.maths.verdicts.compare`;
* :data:`WORDED` -- a claim the paper words without a number at its setting (Figs. 4-5, the ICLR
  "bottom-up" claim); the page writes its verdict (:func:`wsm.report.summary.claim_row`), counted only where
  the setting is the paper's;
* :data:`INVARIANCE` -- an exact identity (Fig. 1), true at any scale;
* :data:`PREDICTION` -- what the paper's hypothesis predicts at any scale (chains above the permutation
  null, each chain above its own unnormalized layer, deeper layers near chance, a zoo below another),
  judged on every run of a real dataset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from wsm.core import paper
from wsm.maths import verdicts
from wsm.core.errors import WsmError

NUMBER, WORDED, INVARIANCE, PREDICTION = "the paper's number", "worded claim", "invariance", "prediction at any scale"
AT_PAPER = (NUMBER, WORDED, INVARIANCE)     # judged at the paper's setting (an invariance holds at any)
EXACT = paper.EXACT
# the columns of a results row that say where it was measured (wsm.book.experiments.Page.setting_columns)
SETTING_COLUMNS = ("data", "tasks", "runs", "epochs", "train_fraction", "retrieval_train_fraction", "query_fraction")


@dataclass(frozen=True)
class Setting:
    """Where a number was measured: the dataset key (:data:`wsm.zoos.data.DATASETS`), tasks, runs per task,
    the training schedule's length (epochs; GRU-2: SGD steps) and the protocols' split fractions."""

    data: str
    tasks: int
    runs: int
    epochs: int
    train_fraction: float = 0.6
    retrieval_train_fraction: float | None = 0.6
    query_fraction: float | None = 0.2

    @property
    def retrieval_tasks(self) -> int:
        """How many tasks train retrieval's classifier (:func:`wsm.maths.htt.split_tasks`)."""
        return int(round((self.retrieval_train_fraction or 0) * self.tasks))

    def n(self, protocol: str) -> int:
        """Test networks (classification) or queries (retrieval) at this setting (:func:`wsm.maths.htt.test_size`)."""
        from wsm.maths import htt

        return htt.test_size(protocol, self.tasks, self.runs, self.train_fraction,
                             self.retrieval_train_fraction or 0.6, self.query_fraction or 0.2)

    def chance(self, protocol: str) -> float:
        """Chance in percent: one of the tasks (classification), one of the unseen tasks (retrieval)."""
        if protocol == "retrieval":
            return 100 / max(1, self.tasks - self.retrieval_tasks)
        return 100 / self.tasks

    def describe(self, protocol: str | None = None) -> str:
        unit = "steps" if self.data == "namedata" else "epochs"
        words = f"{self.tasks} tasks × {self.runs} runs, {self.epochs} {unit}"
        if protocol is not None:
            words += f", chance {self.chance(protocol):.0f}%"
        return words

    def relation(self, run: Setting, protocol: str) -> tuple[str, str]:
        """How ``run`` (ours) stands to this setting (the paper's) for ``protocol``: ``("same", "")``,
        ``("reduced", why)`` (fewer runs or a shorter schedule: can only lower accuracy) or
        ``("other", why)`` (another dataset, chance level or split: the paper's number says nothing
        about it)."""
        from wsm.maths import htt

        if run.data != self.data:
            return "other", f"measured on {_dataset(run.data)}, the paper on {_dataset(self.data)}"
        if protocol == "retrieval":
            problem = htt.retrieval_problem(run.tasks, run.retrieval_train_fraction or 0.6)
            if problem:
                return "other", problem
        if run.tasks != self.tasks:
            return "other", (f"at {run.tasks} tasks (chance {run.chance(protocol):.0f}%), the paper at {self.tasks} "
                             f"(chance {self.chance(protocol):.0f}%)")
        if protocol == "retrieval" and run.retrieval_tasks != self.retrieval_tasks:
            return "other", f"retrieval trained on {run.retrieval_tasks} tasks, the paper's on {self.retrieval_tasks}"
        # the fractions as the results table prints them (4 significant digits): a split is the same when it
        # gives the same numbers of networks
        splits = ("train_fraction",) if protocol == "classification" else ("query_fraction",)
        for name in splits:
            if not np.isclose(getattr(run, name) or 0, getattr(self, name) or 0, rtol=0, atol=1e-3):
                return "other", f"{name} {getattr(run, name):g}, the paper's {getattr(self, name):g}"
        if run.runs > self.runs or run.epochs > self.epochs:
            return "other", f"{run.describe()} against the paper's {self.describe()}"
        if run.runs < self.runs or run.epochs < self.epochs:
            return "reduced", f"a reduced setting: {run.describe()} against the paper's {self.describe()}"
        return "same", ""

    @classmethod
    def of_row(cls, row) -> Setting | None:
        """The setting a results row records (None when it records none)."""
        get = row.get if hasattr(row, "get") else lambda k, d=None: getattr(row, k, d)
        values = {c: get(c, None) for c in SETTING_COLUMNS}
        if any(v is None or (isinstance(v, float) and np.isnan(v)) for k, v in values.items()
               if k in ("data", "tasks", "runs", "epochs", "train_fraction")):
            return None
        fractions = {k: (None if values[k] is None or (isinstance(values[k], float) and np.isnan(values[k]))
                         else float(values[k])) for k in ("retrieval_train_fraction", "query_fraction")}
        return cls(str(values["data"]), int(values["tasks"]), int(values["runs"]), int(values["epochs"]),
                   float(values["train_fraction"]), **fractions)


def _dataset(key: str) -> str:
    from wsm.zoos import data

    return data.short_name(key) if key in data.DATASETS else str(key)


def paper_setting(notebook: str, arch: str | None = None) -> Setting:
    """The paper's setting of a page's numbers: :data:`wsm.core.profiles.PROFILES` ``["paper"]`` (the paper's
    settings, one home), the schedule of ``arch`` where the page trains several."""
    from wsm.core import profiles

    p = profiles.parameters("paper", notebook)
    epochs = {"mlp4": p.get("mlp_epochs"), "plainnet5": p.get("cnn_epochs")}.get(arch) or p.get("epochs") \
        or p.get("steps") or p.get("cnn_epochs")
    dataset = "cifar100" if p.get("dataset", "cifar100") == "cifar100" else p["dataset"]
    return Setting(dataset, p["n_tasks"], p["runs"], int(epochs), p["train_fraction"],
                   p.get("retrieval_train_fraction"), p.get("query_fraction"))


@dataclass(frozen=True)
class Cell:
    """One number the paper reports and the results row that holds ours (``match``: column -> value)."""

    label: str
    value: float
    protocol: str
    setting: Setting
    match: dict

    @property
    def paper_n(self) -> int:
        return self.setting.n(self.protocol)


@dataclass(frozen=True)
class Claim:
    """One sentence of the paper that the book tests (see the module doc)."""

    key: str
    figure: str
    notebook: str                 # the page that reports it
    sentence: str                 # the claim in our words
    quote: str                    # the paper's words
    source: str
    kind: str
    cells: tuple[Cell, ...] = ()
    tolerance: float = verdicts.ROUNDING     # how exactly the paper prints its numbers
    rule: str | None = None       # WORDED: "holds" / "fails"; PREDICTION: a rule of RULES
    match: dict = field(default_factory=dict)   # the rows a WORDED / PREDICTION claim reads
    against: tuple[str, ...] = ()  # "below" (PREDICTION) / "fails" (WORDED): the zoos it is lower than
    setting: Setting | None = None  # WORDED: the paper's setting

    def paper_decision(self, alpha: float) -> str:
        if self.kind == NUMBER:
            found = {verdicts.decision(c.value, alpha) for c in self.cells}
            return found.pop() if len(found) == 1 else "mixed"
        if self.kind == WORDED:
            return {"holds": "accept H0 (every chain)", "fails": "reject H0 (some chain)"}[self.rule]
        return "—"


# ---------------------------------------------------------------- the claims
_FIG2 = {"mlp4": "MLP-4", "plainnet5": "PlainNet-5"}
_METRIC = {"classification": "top-1", "retrieval": "rank-1"}


def _cells(figure: str, notebook: str, table: dict, archs, protocol: str, kind: str) -> tuple[Cell, ...]:
    out = []
    for arch in archs:
        for depth, value in enumerate(table[(arch, protocol, kind)], start=1):
            if value is None:
                continue
            out.append(Cell(f"{_FIG2[arch]} {paper.feature(kind, depth)}", float(value), protocol,
                            paper_setting(notebook, arch),
                            {"figure": figure, "architecture": _FIG2[arch], "protocol": protocol, "kind": kind,
                             "depth": depth}))
    return tuple(out)


def _fig2_quote(protocol: str, kind: str) -> str:
    t = paper.FIG2
    m, c = (t[("mlp4", protocol, kind)], t[("plainnet5", protocol, kind)])
    if kind == "normalized":
        return (f"{'the testing achieves' if protocol == 'classification' else 'our method achieves'} "
                f"{m[0]}%, {m[1]}%, and {m[2]}% {_METRIC[protocol]} accuracy for MLP and {c[0]}%, {c[1]}%, and {c[2]}% "
                "for CNN")
    drops = "drops significantly, e.g." if protocol == "classification" else "drops to"
    return (f"Without using the chain normalization rule, the accuracy {drops} "
            f"{m[0]}%, {m[1]}%, and {m[2]}% for MLP, and {c[0]}%, {c[1]}%, and {c[2]}% for CNN")


CLAIMS: list[Claim] = [
    Claim("fig1", "Fig. 1", "s3_3_chain_normalization", "a permuted 2-3-3 network computes the same output",
          "\"the two networks are equivalent\" (W1', W2' as printed)", "Section 3.3.1", INVARIANCE,
          match={"figure": "Fig. 1"}),
]
for _protocol in ("classification", "retrieval"):
    for _kind in ("normalized", "unnormalized"):
        CLAIMS.append(Claim(
            f"fig2-{_protocol}-{_kind}", "Fig. 2", "s4_1_tiny_imagenet",
            f"{_protocol}: {'chains C1-C3' if _kind == 'normalized' else 'layers L1-L3 (unnormalized)'} of MLP-4 and "
            f"PlainNet-5 ({_METRIC[_protocol]})", _fig2_quote(_protocol, _kind),
            f"Section 4.1, Fig. 2 ({'a, b' if _protocol == 'classification' else 'c, d'})", NUMBER,
            _cells("Fig. 2", "s4_1_tiny_imagenet", paper.FIG2, ("mlp4", "plainnet5"), _protocol, _kind)))
CLAIMS.append(Claim(
    "fig3", "Fig. 3", "s4_2_cifar100", "chains C1-C3 of MLP-4 and PlainNet-5, both protocols: about 98%",
    paper.FIG3_QUOTE, "Section 4.2", NUMBER,
    sum((_cells("Fig. 3", "s4_2_cifar100", paper.FIG3, ("mlp4", "plainnet5"), p, "normalized")
         for p in ("classification", "retrieval")), ()), tolerance=verdicts.APPROXIMATE))
for _kind, _quote in (("normalized", "With the chain normalization rule, the proposed method obtains 100.0% top-1 "
                                     "accuracy at the weight classification setting and 95.7% rank-1 at the weight "
                                     "retrieval setting."),
                      ("unnormalized", "Without the normalization approach, the accuracy is 17.2% in classification "
                                       "and 21.3% in retrieval.")):
    CLAIMS.append(Claim(
        f"table1-{_kind}", "Table 1", "s4_3_namedata",
        f"GRU-2 {'chain 1' if _kind == 'normalized' else 'raw layer 1'}, both protocols", _quote,
        "Section 4.3, Appendix F.2", NUMBER,
        tuple(Cell(f"{paper.feature(_kind, 1)} {p}", paper.TABLE1[(p, _kind)], p,
                   paper_setting("s4_3_namedata"),
                   {"figure": "Table 1", "protocol": p, "kind": _kind, "depth": 1})
              for p in ("classification", "retrieval"))))
CLAIMS.append(Claim(
    "table2", "Table 2", "appendix_d_resnet_mlp", "ResNet-MLP-12 chains 3-11, classification",
    "Weight similarity measure on CIFAR-100 using ResNet-MLP-12: " + ", ".join(
        f"chain {c}: {v}%" for c, v in paper.TABLE2.items()), "Appendix D, Table 2", NUMBER,
    tuple(Cell(f"C{c}", v, "classification", paper_setting("appendix_d_resnet_mlp"),
               {"figure": "Table 2", "kind": "normalized", "depth": c}) for c, v in paper.TABLE2.items())))

_S44, _S45 = "s4_4_network_variants", "s4_5_cross_network"
CLAIMS += [
    Claim("fig4-holds", "Fig. 4", _S44, "Depth, Res5 and Leaky zoos: the hypothesis still holds",
          paper.FIG4_CLAIMS["Depth"], "Section 4.4", WORDED, rule="holds",
          match={"figure": "Fig. 4", "panel": "claim", "architecture": ("Depth", "Res5", "Leaky")},
          setting=paper_setting("s4_2_cifar100", "plainnet5")),
    Claim("fig4-adam", "Fig. 4", _S44, "Adam zoo: the hypothesis does not hold", paper.FIG4_CLAIMS["Adam"],
          "Section 4.4 (ICLR)", WORDED, rule="fails",
          match={"figure": "Fig. 4", "panel": "claim", "architecture": "Adam"},
          against=("Baseline",), setting=paper_setting("s4_2_cifar100", "plainnet5")),
]
for (_protocol, _zoo), _words in paper.FIG5_CLAIMS.items():
    if (_protocol, _zoo) in (("classification", "Depth"), ("retrieval", "Leaky"), ("retrieval", "Depth")):
        continue           # one sentence with another zoo's entry (below)
    _which = {("classification", "Leaky"): ("Leaky", "Depth"), ("retrieval", "Res5"): ("Res5", "Leaky", "Depth")}.get(
        (_protocol, _zoo), (_zoo,))
    _fails = _zoo == "Adam" or (_zoo == "Res5" and _protocol == "classification")
    CLAIMS.append(Claim(
        f"fig5-{_protocol}-{'-'.join(_which).lower()}", "Fig. 5", _S45,
        f"Baseline-trained {_protocol} on the {' and '.join(_which)} zoo{'s' if len(_which) > 1 else ''}: "
        + ("the accuracy drops" if _fails and _zoo == "Res5" else "low" if _fails else "still high"),
        _words, "Section 4.5" + (" (ICLR)" if _zoo == "Adam" else ""), WORDED, rule="fails" if _fails else "holds",
        match={"figure": "Fig. 5", "panel": "claim", "protocol": _protocol,
               "architecture": _which if len(_which) > 1 else _zoo},
        against=("Depth", "Leaky") if _fails else (), setting=paper_setting("s4_2_cifar100", "plainnet5")))
CLAIMS.append(Claim(
    "iclr-bottom-up", "ICLR Sec. 4.1 (bottom-up)", "iclr_bottom_up",
    "every chain taken in the layers' order classifies well", paper.ICLR_BOTTOM_UP, "ICLR-2020 version, Section 4.1",
    WORDED, rule="holds", match={"figure": "ICLR Sec. 4.1 (bottom-up)", "panel": "claim"},
    setting=paper_setting("s4_1_tiny_imagenet", "mlp4")))

# the predictions at any scale, each resting on the paper's words
_NULL_QUOTE = ("The classification errors are lower than the significance level (α = 5%). Therefore, we accept the "
               "null hypothesis that SGD-based local solutions converge to a similar local solution. (Section 4.1)")
_LAYER_QUOTE = ("Without using the chain normalization rule, the accuracy drops significantly ... Layer-based weight "
                "classification/retrieval is not an effective weight similarity measure algorithm due to the lack "
                "of the weight normalization. (Section 4.1)")
_CHANCE_QUOTE = ("Without weight normalization, the first layer also obtains a moderate accuracy. The reason is that "
                 "the first layer only has one column permutation variable ... (Section 4.1; the deeper layers: "
                 "2.4-11.0% in Fig. 2 at chance 2% / 5%)")
_PAGES = {"Fig. 2": "s4_1_tiny_imagenet", "Fig. 3": "s4_2_cifar100", "Table 1": "s4_3_namedata",
          "Table 2": "appendix_d_resnet_mlp"}
for _figure, _notebook in _PAGES.items():
    CLAIMS.append(Claim(f"{_figure}-null", _figure, _notebook, "chains are recognised above the permutation null",
                        _NULL_QUOTE, "Section 4.1 (its decision; the null is ours)", PREDICTION, rule="above_null",
                        match={"figure": _figure, "kind": "normalized"}))
    CLAIMS.append(Claim(f"{_figure}-layer", _figure, _notebook,
                        "each chain is recognised better than its own unnormalized layer (same test networks)",
                        _LAYER_QUOTE, "Section 4.1", PREDICTION, rule="above_layer",
                        match={"figure": _figure, "kind": "normalized"}))
for _figure in ("Fig. 2", "Fig. 3"):
    CLAIMS.append(Claim(f"{_figure}-chance", _figure, _PAGES[_figure], "deeper unnormalized layers (L2, L3) are "
                        "recognised near chance", _CHANCE_QUOTE, "Section 4.1", PREDICTION, rule="near_chance",
                        match={"figure": _figure, "kind": "unnormalized"}))
CLAIMS += [
    Claim("fig4-adam-below", "Fig. 4", _S44, "the Adam zoo's chains are recognised worse than the Baseline's",
          paper.FIG4_CLAIMS["Adam"], "Section 4.4 (ICLR)", PREDICTION, rule="below",
          match={"figure": "Fig. 4", "kind": "normalized", "architecture": "PlainNet-5 + Adam"},
          against=("PlainNet-5",)),
    Claim("fig5-res5-below", "Fig. 5", _S45, "Baseline-trained classification is worse on Res5 than on Leaky and Depth",
          paper.FIG5_CLAIMS[("classification", "Res5")], "Section 4.5", PREDICTION, rule="below",
          match={"figure": "Fig. 5", "kind": "normalized", "protocol": "classification",
                 "architecture": "Baseline -> Res5"}, against=("Baseline -> Leaky", "Baseline -> Depth")),
    Claim("fig5-adam-below", "Fig. 5", _S45, "Baseline-trained testing is worse on Adam than on Leaky and Depth",
          paper.FIG5_CLAIMS[("classification", "Adam")], "Section 4.5 (ICLR)", PREDICTION, rule="below",
          match={"figure": "Fig. 5", "kind": "normalized", "architecture": "Baseline -> Adam"},
          against=("Baseline -> Leaky", "Baseline -> Depth")),
]
CLAIMS.append(Claim(
    "zoo-size-trend", "Zoo size", "zoo_size",
    "chains are recognised better with more runs per task and more epochs of training",
    "SGD-based local solutions converge to a similar local solution (Section 4.1): more training brings a task's "
    "solutions closer, and more runs per task give the weight classifier more of them to learn from",
    "Section 4.1 (its hypothesis; the zoo-size study is ours)", PREDICTION, rule="trend",
    match={"figure": "Zoo size", "kind": "normalized"}))
FIGURES = tuple(dict.fromkeys(c.figure for c in CLAIMS))
CLAIMS.sort(key=lambda c: FIGURES.index(c.figure))      # stable: each figure's numbers, then its predictions


def of_figure(figure: str) -> list[Claim]:
    found = [c for c in CLAIMS if c.figure == figure]
    if not found:
        raise WsmError(f"the paper makes no claim about {figure!r}: figures with claims are {', '.join(FIGURES)}")
    return found


def paper_values(rows: pd.DataFrame, figure: str) -> pd.Series:
    """The paper's number for each row of ``rows`` (its architecture label, protocol, kind and depth) of
    ``figure``; NaN where the paper reports none. What a page shows beside ours."""
    cells = [c for claim in of_figure(figure) if claim.kind == NUMBER for c in claim.cells]
    out = pd.Series(np.nan, index=rows.index, dtype=float)
    for cell in cells:
        match = {k: v for k, v in cell.match.items() if k != "figure"}
        hit = select(rows, match)
        out[hit.index] = cell.value
    return out


def select(df: pd.DataFrame, match: dict) -> pd.DataFrame:
    """The rows of ``df`` whose columns equal ``match``'s values (a tuple value: any of them)."""
    keep = np.ones(len(df), dtype=bool)
    for column, value in match.items():
        if column not in df.columns:
            return df.iloc[:0]
        col = df[column]
        values = value if isinstance(value, tuple) else (value,)
        if isinstance(values[0], str):
            keep &= col.astype(str).isin([str(v) for v in values]).to_numpy()
        else:
            num = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
            keep &= np.any([np.isclose(num, v) for v in values], axis=0)
    return df[keep]


# ---------------------------------------------------------------- judging a claim under one run
@dataclass
class Judgement:
    """A claim under one run: its verdict, why, and its cells (one dict each: label, paper, ours, n,
    ci_low, ci_high, chance, verdict, why)."""

    verdict: str
    why: str
    cells: list[dict]

    @property
    def ours(self) -> str:
        values = [c["ours"] for c in self.cells if not np.isnan(c.get("ours", np.nan))]
        if not values:
            return "—"
        lo, hi = min(values), max(values)
        return f"{lo:.1f}" if np.isclose(lo, hi) else f"{lo:.1f}–{hi:.1f}"

    @property
    def n(self) -> str:
        values = sorted({int(c["n"]) for c in self.cells if not np.isnan(c.get("n", np.nan))})
        return "—" if not values else str(values[0]) if len(values) == 1 else f"{values[0]}–{values[-1]}"


def _num(row, column: str) -> float:
    value = pd.to_numeric(row.get(column, np.nan), errors="coerce")
    return float(value) if value is not None and not pd.isna(value) else np.nan


def _base(row) -> dict:
    return dict(ours=_num(row, "ours"), n=_num(row, "n"), ci_low=_num(row, "ci_low"), ci_high=_num(row, "ci_high"),
                chance=_num(row, "chance"))


def _smoke(rows: pd.DataFrame) -> bool:
    return "profile" in rows and len(rows) and (rows.profile.astype(str) == "smoke").all()


def _standin(rows: pd.DataFrame) -> bool:
    return "data" in rows and (rows.data.astype(str) == "cifar100-standin").any() or \
        "dataset" in rows and rows.dataset.astype(str).str.contains("STAND-IN").any()


def _judge_cell(cell: Cell, row, tolerance: float) -> dict:
    """One number of the paper against our results row: the verdict at the level the setting allows."""
    out = dict(label=cell.label, paper=cell.value, paper_n=cell.paper_n, **_base(row))
    run = Setting.of_row(row)
    relation, why = (("other", "the run records no setting") if run is None
                     else cell.setting.relation(run, cell.protocol))
    if str(row.get("profile", "")) == "smoke":
        out.update(verdict=verdicts.NOT_TESTED, why="a smoke run only checks that the page runs")
    elif np.isnan(out["ours"]) or np.isnan(out["n"]):
        out.update(verdict=verdicts.NOT_TESTED, why=why or "no result")
    elif relation == "other":
        out.update(verdict=verdicts.NOT_TESTED, why=why)
    else:
        verdict, words = verdicts.compare(round(out["ours"] * out["n"] / 100), out["n"], cell.value, cell.paper_n,
                                          tolerance, reduced=relation == "reduced")
        if words.endswith("(too few to tell)"):
            need = verdicts.n_to_reproduce(cell.value, cell.paper_n, tolerance)
            words += f"; a test needs n ≥ {need}" if need and need > out["n"] else ""
        out.update(verdict=verdict, why=words + (f" ({why}; paper n = {cell.paper_n})" if why else
                                                 f" (paper n = {cell.paper_n})"))
    return out


def _missing_cell(cell: Cell, rows: pd.DataFrame) -> dict:
    """A number the run has no row for: not tested when the run's setting cannot test it (retrieval
    refused on too few tasks), else missing."""
    out = dict(label=cell.label, paper=cell.value, verdict=verdicts.MISSING, why="the run has no row for it")
    same = select(rows, {k: v for k, v in cell.match.items() if k in ("figure", "architecture")})
    run = Setting.of_row(same.iloc[0]) if len(same) else None
    if run is not None and cell.protocol == "retrieval":
        from wsm.maths import htt

        problem = htt.retrieval_problem(run.tasks, run.retrieval_train_fraction or 0.6)
        if problem:
            out.update(verdict=verdicts.NOT_TESTED, why=problem)
    return out


def _judge_number(claim: Claim, rows: pd.DataFrame) -> Judgement:
    cells = []
    for cell in claim.cells:
        hit = select(rows, cell.match)
        cells.append(_judge_cell(cell, hit.iloc[0], claim.tolerance) if len(hit) == 1 else _missing_cell(cell, rows))
    return _combined(cells)


def cell_verdicts(rows: pd.DataFrame) -> list[str]:
    """For each results row (with its ``figure``), the verdict of the paper's number it measures
    (:func:`wsm.maths.verdicts.compare` where the setting allows), '—' where the paper reports none."""
    found = ["—"] * len(rows)
    for claim in CLAIMS:
        if claim.kind != NUMBER:
            continue
        for cell in claim.cells:
            for i in np.flatnonzero(rows.index.isin(select(rows, cell.match).index)):
                found[i] = _judge_cell(cell, rows.iloc[i], claim.tolerance)["verdict"]
    return found


def _combined(cells: list[dict]) -> Judgement:
    verdict = verdicts.combine(c["verdict"] for c in cells)
    reasons = list(dict.fromkeys(c["why"] for c in cells if c["verdict"] in (verdicts.NOT_TESTED, verdicts.MISSING)))
    tested = [c for c in cells if c["verdict"] not in (verdicts.NOT_TESTED, verdicts.MISSING)]
    if verdict in (verdicts.NOT_TESTED, verdicts.MISSING):
        why = "; ".join(reasons)
    else:
        why = verdicts.counted(c["verdict"] for c in tested) + f" of {len(tested)} tested cells"
        if len(tested) < len(cells):
            why += f"; {len(cells) - len(tested)} not tested ({'; '.join(reasons)})"
    return Judgement(verdict, why, cells)


def _judge_worded(claim: Claim, rows: pd.DataFrame) -> Judgement:
    hit = select(rows, claim.match)
    if hit.empty:
        return Judgement(verdicts.MISSING, "the run has no row for it", [])
    cells = []
    for _, row in hit.iterrows():
        out = dict(label=str(row.get("architecture", claim.figure)), paper=np.nan, **_base(row))
        run = Setting.of_row(row)
        relation, why = ("other", "the run records no setting") if run is None else \
            claim.setting.relation(run, "retrieval" if row.get("protocol") == "retrieval" else "classification")
        written = row.get("verdict")
        if relation == "other":
            out.update(verdict=verdicts.NOT_TESTED, why=why)
        elif not isinstance(written, str) or written not in verdicts.VERDICTS:
            out.update(verdict=verdicts.NOT_TESTED, why="the page wrote no verdict for it")
        elif relation == "reduced" and written != verdicts.REPRODUCED:
            out.update(verdict=verdicts.NOT_TESTED,
                       why=f"not reached at a reduced setting ({why}), which tests nothing")
        else:
            out.update(verdict=written, why=f"the chains' intervals against the paper's bar ({why or 'its setting'})")
        cells.append(out)
    return _combined(cells)


def _judge_invariance(claim: Claim, rows: pd.DataFrame) -> Judgement:
    hit = select(rows, claim.match)
    if hit.empty:
        return Judgement(verdicts.MISSING, "the run has no row for it", [])
    out = dict(label=claim.figure, paper=0.0, **_base(hit.iloc[0]))
    out.update(verdict=verdicts.exact_zero(out["ours"]), why=f"largest change {out['ours']:.3g} (exact: 0)")
    return _combined([out])


def _prediction_cells(claim: Claim, rows: pd.DataFrame, alpha: float) -> list[dict]:
    hit = select(rows[rows.get("panel", pd.Series("", index=rows.index)).astype(str) != "claim"], claim.match)
    cells = []
    for _, row in hit.iterrows():
        base = _base(row)
        depth, repeats = _num(row, "depth"), _num(row, "null_repeats")
        if claim.rule == "near_chance" and depth < 2:
            continue
        feature = paper.feature(row.get("kind"), None if np.isnan(depth) else int(depth))
        label = f"{row.get('architecture', '')} {row.get('protocol', '')} {feature}"
        out = dict(label=label.strip(), paper=np.nan, **base)
        p_null, p_paired, p_paired_rev = _num(row, "p_null"), _num(row, "p_paired"), _num(row, "p_paired_rev")
        problem = degenerate(row)
        if problem:
            out.update(verdict=verdicts.NOT_TESTED, why=problem)
        elif claim.rule == "above_null":
            out["verdict"] = verdicts.above_null(p_null, base["ci_high"], _num(row, "null_high"),
                                                 0 if np.isnan(repeats) else int(repeats), alpha)
            out["why"] = (f"p_null = {p_null:.3g} with {repeats:.0f} shuffles"
                          if out["verdict"] != verdicts.NOT_TESTED else "no permutation null with enough shuffles")
        elif claim.rule == "above_layer":
            out["verdict"] = verdicts.above_layer(p_paired, p_paired_rev, alpha)
            out["why"] = (f"paired exact p = {p_paired:.3g} (layer better: {p_paired_rev:.3g})"
                          if out["verdict"] != verdicts.NOT_TESTED else "no paired test recorded (per-network results)")
        elif claim.rule == "near_chance":
            out["verdict"] = verdicts.near_chance(base["ci_low"], base["ci_high"], base["chance"])
            out["why"] = (f"[{base['ci_low']:.1f}, {base['ci_high']:.1f}] against chance {base['chance']:.1f}%: within "
                          f"{verdicts.NEAR_CHANCE:.0%} of the way from chance to 100% counts as near")
        cells.append(out)
    return cells


def degenerate(row) -> str | None:
    """Why a retrieval row measured nothing (its classifier trained on too few tasks), or None."""
    if row.get("protocol") != "retrieval":
        return None
    run = Setting.of_row(row)
    if run is None:
        return None
    from wsm.maths import htt

    return htt.retrieval_problem(run.tasks, run.retrieval_train_fraction or 0.6)


def _judge_below(claim: Claim, rows: pd.DataFrame) -> list[dict]:
    ours = select(rows, claim.match)
    theirs = select(rows, {**claim.match, "architecture": claim.against})
    if ours.empty or theirs.empty:
        return []
    keys = ["protocol", "depth"]
    pairs = ours[keys + ["ci_low", "ci_high", "ours", "n"]].merge(
        theirs[keys + ["ci_low", "ci_high"]], on=keys, suffixes=("", "_b"))
    if pairs.empty:
        return []
    verdict = verdicts.below(pairs.ci_low, pairs.ci_high, pairs.ci_low_b, pairs.ci_high_b)
    return [dict(label=f"{claim.match['architecture']} vs {', '.join(claim.against)}", paper=np.nan,
                 ours=float(pairs.ours.mean()), n=float(pairs.n.sum()), ci_low=np.nan, ci_high=np.nan, chance=np.nan,
                 verdict=verdict, why=f"{len(pairs)} matched chain cells' intervals")]


POINT = r"^(?P<axis>\w+): (?P<epoch>\d+) epochs, (?P<tasks>\d+) tasks x (?P<runs>\d+) runs$"   # a zoo-size row's panel


def _judge_trend(claim: Claim, rows: pd.DataFrame) -> list[dict]:
    """"More runs per task / more epochs: better", per chain feature (architecture, protocol, depth) and
    axis of the zoo-size rows: the largest point's interval against the smallest's (:func:`wsm.maths.verdicts.below`
    read the other way round: supported when the smaller point lies wholly below)."""
    hit = select(rows, claim.match)
    if hit.empty or "panel" not in hit:
        return []
    point = hit.panel.astype(str).str.extract(POINT)
    hit = hit.assign(axis=point["axis"], step=np.where(point["axis"] == "epochs", point["epoch"], point["runs"]))
    hit = hit[hit.axis.isin(["runs", "epochs"])].dropna(subset=["step", "ci_low", "ci_high"])
    cells = []
    for (axis, arch, protocol, depth), g in hit.groupby(["axis", "architecture", "protocol", "depth"], sort=False):
        g = g.assign(step=g.step.astype(int)).sort_values("step")
        small, large = g.iloc[0], g.iloc[-1]
        if small.step == large.step:
            continue
        verdict = verdicts.below([small.ci_low], [small.ci_high], [large.ci_low], [large.ci_high])
        cells.append(dict(label=f"{arch} {protocol} C{int(depth)}, {axis} {small.step} → {large.step}", paper=np.nan,
                          ours=float(large.ours), n=float(large.n), ci_low=float(large.ci_low),
                          ci_high=float(large.ci_high), chance=_num(large, "chance"), verdict=verdict,
                          why=f"{float(small.ours):.1f}% [{small.ci_low:.1f}, {small.ci_high:.1f}] → "
                              f"{float(large.ours):.1f}% [{large.ci_low:.1f}, {large.ci_high:.1f}]"))
    return cells


def judge(claim: Claim, rows: pd.DataFrame, alpha: float = paper.ALPHA) -> Judgement:
    """``claim`` under one run whose results rows are ``rows`` (the rows of every page of the run, or
    of the claim's page): its verdict, why, and its cells (:mod:`wsm.maths.verdicts`)."""
    rows = rows[rows.figure.astype(str) == claim.figure] if "figure" in rows else rows.iloc[:0]
    if rows.empty:
        return Judgement(verdicts.MISSING, "the run has no rows of " + claim.figure, [])
    if claim.kind == INVARIANCE:
        return _judge_invariance(claim, rows)
    if _smoke(rows):
        return Judgement(verdicts.NOT_TESTED, "a smoke run only checks that the page runs", [])
    if claim.kind == NUMBER:
        return _judge_number(claim, rows)
    if claim.kind == WORDED:
        return _judge_worded(claim, rows)
    if _standin(rows):
        return Judgement(verdicts.NOT_TESTED, "measured on the CIFAR-100 stand-in, whose zoos check the pipeline only",
                         [])
    cells = (_judge_below(claim, rows) if claim.rule == "below" else _judge_trend(claim, rows) if claim.rule == "trend"
             else _prediction_cells(claim, rows, alpha))
    if not cells:
        return Judgement(verdicts.MISSING, "the run has no rows for it", [])
    return _combined(cells)


# ---------------------------------------------------------------- a page's conclusion
def conclusion(figure: str, rows: pd.DataFrame, alpha: float = paper.ALPHA, run: str | None = None) -> str:
    """The closing paragraph of the page that reports ``figure`` (Markdown), from its results rows: the
    run it states, then each of the figure's claims with its verdict and why (:func:`judge`), the
    paper's sentences first, then the predictions at any scale."""
    rows = rows[rows.figure.astype(str) == figure] if "figure" in rows else rows
    profile = run or (str(rows.profile.iloc[0]) if "profile" in rows and len(rows) else "this run")
    parts = []
    data_words = ""
    if "data" in rows and len(rows):
        data_words = ", " + _dataset(str(rows.data.dropna().iloc[0])) if rows.data.notna().any() else ""
    for claim in of_figure(figure):
        j = judge(claim, rows, alpha)
        what = "the paper's numbers" if claim.kind == NUMBER else "prediction" if claim.kind == PREDICTION else \
            "the paper's claim"
        ours = f"; ours {j.ours}% (n = {j.n})" if claim.kind != INVARIANCE and j.ours != "—" else ""
        parts.append(f"* {what}, *{claim.sentence}*: **{j.verdict}**{ours} — {j.why}.")
    head = f"**Conclusion ({profile} profile{data_words}).** What this run says of {figure}'s claims " \
           f"(`wsm.report.claims`, rules `wsm.maths.verdicts`; the summary page tallies them):"
    return "\n".join([head, ""] + parts)
