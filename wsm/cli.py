"""The ``wsm`` command line (``python -m wsm``).

    wsm similarity A.pt B.pt [--chains 1 2 3] [--draws N] [--full] [--trust]     (alias: wsm compare)
    wsm htt FOLDER [LABELS.csv] [--depths 1 2 3] [--splits K] [--classifier both] [--epochs N] ...
    wsm zoo --profile quick --arch mlp4 [--out DIR] [--data DIR] [--tasks N] [--runs N]
            [--engine ray [--address HOST:PORT]]
    wsm --version

Every command takes ``--json`` or ``--csv``: the result alone on stdout, machine-readable (notes
and progress go to stderr). Every user-facing problem (a :class:`~wsm.core.errors.WsmError`) is printed
as one line ``error: <message>`` on stderr with exit status 2, never as a traceback.

Only the command that runs has its options built (:func:`parser`): ``wsm --help`` imports neither
torch nor the modules whose defaults the options show.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import textwrap
import time
from pathlib import Path

from wsm import __version__
from wsm.core import paper
from wsm.core.errors import WsmError

NOTEBOOK = "s4_1_tiny_imagenet"     # the notebook whose zoos `wsm zoo` builds
EXPLANATION = (
    "cosine: of the chain-normalized weights phi^l (Eq. 7). It is 1 whenever phi^l of b is a positive multiple of "
    "phi^l of a: a permutation of hidden units (the same function) gives 1, but so does any orthogonal change of "
    "hidden basis and multiplying a layer by a positive number (other functions), so 1 does not mean the two "
    "networks compute the same function. raw_cosine: of the raw l-th layer weights, which a permutation changes. "
    "References: *_init = the same figure for two independently initialized networks of these shapes (what "
    "unrelated networks score; mean of {draws} pairs); *_rotated = network a against a random orthogonal change of "
    "its hidden basis, which chain normalization cannot see.")
COMPACT = (
    "cosine: of the chain-normalized weights phi^l (Eq. 7); 1 whenever phi^l of b is a positive multiple of phi^l "
    "of a (a permutation of hidden units, but also any orthogonal change of hidden basis), so 1 does not mean the "
    "same function. unrelated: the cosine of {draws} pairs of independently initialized networks of these shapes, "
    "mean [lowest-highest]; the pair's cosine is above, within or below that range. raw: the cosine of the raw "
    "l-th layer weights (unrelated pairs' mean). --full: every figure and reference (wsm.analyses.compare.compare).")
HTT_NOTE = (
    "accuracy, n, ci95: the first split's top-1 on held-out networks of each task (classification) or rank-1 on "
    "networks of unseen tasks (retrieval), of the classifier named (linear: the paper's, trained on the feature; "
    "nearest: the nearest neighbour by the feature's cosine, nothing trained), with its exact (Clopper-Pearson) "
    "95% interval; C<l>: chain-normalized phi^l, L<l>: raw layer l. splits: mean [lowest-highest] over {splits} "
    "splits, which do not depend on the tasks' names or order. shuffled labels: the same pipeline with the task "
    "labels shuffled (mean [95% band], p = share as high as ours): a check that the classifier recognises tasks "
    "at all, not the paper's hypothesis. H0, the paper's hypothesis: the networks of a task are one solution. "
    "paper's rule: accept H0 when the error is below alpha = {alpha}. H0 by the interval: consistent when the "
    "interval's lower end is within {delta:g} points of 1 - alpha or above, inconsistent when the interval lies "
    "below it, else underpowered (wsm.maths.htt.evidence); not tested, with the reason, where the protocol tested "
    "nothing (wsm.maths.verdicts.untested).")
COMMANDS = {"similarity": ("compare",), "htt": (), "zoo": ()}       # command: its aliases


def _argument(convert, valid, what: str):
    """An argparse type: ``convert(text)`` where ``valid`` holds, else one message saying what it must be."""
    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not valid(value):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value
    return parse


_positive = _argument(int, lambda v: v >= 1, "a positive integer")
_count = _argument(int, lambda v: v >= 0, "a whole number (0 or more)")
_fraction = _argument(float, lambda v: 0 < v < 1, "a number between 0 and 1")
_gigabytes = _argument(float, lambda v: v > 0, "a positive number of gigabytes")


def _output_options(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--json", action="store_true", help="print the result as JSON on stdout, and nothing else")
    g.add_argument("--csv", action="store_true", help="print the result table as CSV on stdout, and nothing else")


def _command(argv) -> str | None:
    """The command ``argv`` names (an alias as its command), or None (``wsm --help``, ``wsm --version``)."""
    for token in argv:
        for command, aliases in COMMANDS.items():
            if token == command or token in aliases:
                return command
        if not token.startswith("-"):
            return None
    return None


def parser(argv=None) -> argparse.ArgumentParser:
    """The command line's parser. With ``argv``, only the options of the command it names are built (so
    ``wsm --help`` imports no torch); without, every command's."""
    only = _command(argv) if argv is not None else None
    ap = argparse.ArgumentParser(
        prog="wsm", description="Weight similarity of neural networks via the chain normalization rule.",
        epilog="Run 'wsm COMMAND --help' (or python -m wsm COMMAND --help) for the options of a command.")
    ap.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = ap.add_subparsers(dest="command", required=True, title="commands")
    helps = dict(similarity="compare two saved networks chain by chain, beside reference figures (alias: compare)",
                 htt="the paper's test on your networks: classify and retrieve networks by task",
                 zoo=f"train (or resume) a weight zoo with a profile's parameters of notebook {NOTEBOOK}")
    build = dict(similarity=_similarity_options, htt=_htt_options, zoo=_zoo_options)
    for command, aliases in COMMANDS.items():
        p = sub.add_parser(command, aliases=list(aliases), help=helps[command])
        if argv is None or only == command:
            build[command](p)
    return ap


def _similarity_options(sim) -> None:
    from wsm.maths import chain
    from wsm.analyses import compare

    sim.description = (
        "Compare two networks of the same architecture chain by chain: the cosine similarity of the "
        "chain-normalized weights phi^l beside the same figure for independently initialized networks of the "
        "same shapes (one line per chain); --full adds the relative distance, the raw l-th layer weights' "
        "cosine and a random orthogonal change of hidden basis (which chain normalization cannot see) as a "
        "reference. Files: torch.save(model.state_dict(), path), checkpoints with the state_dict under "
        "state_dict / model / model_state_dict / net / ..., and wsm zoo run files. Networks: "
        f"{chain.SUPPORTED}.")
    sim.add_argument("a", metavar="A.pt", help="first network's file")
    sim.add_argument("b", metavar="B.pt", help="second network's file")
    sim.add_argument("--chains", nargs="+", type=_positive, metavar="L",
                     help="chains to compare (default: all, 1..number of chain layers)")
    sim.add_argument("--draws", type=_count, default=compare.DRAWS, metavar="N",
                     help=f"pairs of independently initialized networks behind the *_init references (default "
                          f"{compare.DRAWS}; 0 leaves them out)")
    sim.add_argument("--full", action="store_true", help="every figure and reference, one column each")
    sim.add_argument("--trust", action="store_true",
                     help="also read files that hold pickled objects other than weights (a whole model saved with "
                          "torch.save(model), a TorchScript archive): this runs code from the files, so only for "
                          "files whose source you trust")
    _output_options(sim)
    sim.set_defaults(func=similarity)


def _htt_options(h) -> None:
    from wsm.maths import chain, htt

    h.description = (
        "Hypothesis-training-testing (the paper's Sections 2-3) on a folder of your own networks of one "
        "architecture and the task each was trained on: for every chain (chain-normalized phi^l) and layer (raw "
        "weights), weight classification (a classifier trained on some networks of each task predicts the task "
        "of the others) and weight retrieval (trained on some tasks, it ranks networks of unseen tasks), by the "
        "paper's linear classifier and by the nearest neighbour on the feature's cosine, with exact 95% "
        "intervals, a permutation null, repeated splits and the verdicts; a protocol that tested nothing (a "
        "classifier that predicts one task, an accuracy within the shuffled labels' band) gets no verdict. "
        "Needs at least 2 networks per task for classification, and 5 tasks with 3 networks each for retrieval "
        "(its classifier must see at least 3 tasks, and 2 stay unseen). The result does not depend on the "
        "tasks' names or the order of the files.")
    h.add_argument("folder", type=Path, metavar="FOLDER", help="folder with the network files")
    h.add_argument("labels", type=Path, nargs="?", metavar="LABELS.csv",
                   help="CSV with a header row and the columns file (relative to FOLDER) and task; only the files "
                        "it lists are used (default: every network file of FOLDER with its own 'task' entry, as in "
                        "a wsm zoo folder)")
    h.add_argument("--depths", nargs="+", type=_positive, metavar="L",
                   help="chains and layers to test (default: 1 2 3, at most the number of chain layers)")
    h.add_argument("--kinds", nargs="+", choices=chain.KINDS[::-1], default=list(chain.KINDS[::-1]),
                   help="features: unnormalized (raw layer weights) and/or normalized (chains); default both")
    h.add_argument("--protocols", nargs="+", choices=("classification", "retrieval"), default=None,
                   help="default: both (retrieval is left out, with a note, where the networks are too few for it)")
    h.add_argument("--classifier", choices=(*htt.CLASSIFIERS, "both"), default="both",
                   help="linear: the paper's weight classifier; nearest: the nearest neighbour by the feature's "
                        "cosine (nothing trained; shows when the linear classifier, not the weights, is the limit); "
                        "default both")
    h.add_argument("--splits", type=_positive, default=htt.SPLITS, metavar="K",
                   help=f"splits drawn (default {htt.SPLITS}): the first gives the exact interval, null and "
                        "verdict, all of them the mean and range")
    h.add_argument("--epochs", type=_positive, default=htt.ClassifierConfig.epochs,
                   help="linear classifier epochs (default: the paper's 10; the learning rate drops tenfold after "
                        "60%%)")
    h.add_argument("--null-repeats", type=_count, default=100, metavar="R",
                   help="label shuffles of the permutation null (default 100; 0 leaves it out)")
    h.add_argument("--train-fraction", type=_fraction, default=0.6, metavar="F",
                   help="share of each task's networks that train the classifier (default: the paper's 0.6)")
    h.add_argument("--task-fraction", type=_fraction, default=0.6, metavar="F",
                   help="share of the tasks that train the retrieval classifier (default: the paper's 0.6)")
    h.add_argument("--query-fraction", type=_fraction, default=0.2, metavar="F",
                   help="share of each unseen task's networks used as retrieval queries (default: the paper's 0.2)")
    h.add_argument("--seed", type=int, default=0, help="seed of the first split and the label shuffles (default 0)")
    h.add_argument("--alpha", type=_fraction, default=0.05, help="significance level of the decision (default 0.05)")
    h.add_argument("--memory-gb", type=_gigabytes, default=None, metavar="GB",
                   help="memory bound of the Gram matrices (default: wsm.maths.chain.gram's); lower it for large "
                        "networks")
    h.add_argument("--trust", action="store_true", help="also read full pickles (runs code from the files; see "
                                                        "wsm similarity --help)")
    _output_options(h)
    h.set_defaults(func=hypothesis_test)


def _zoo_options(z) -> None:
    from wsm.core import profiles
    from wsm.zoos import nets

    z.description = (
        f"Train, or resume, the weight zoo that notebook {NOTEBOOK} uses, with that notebook's parameters under a "
        "profile (tasks, runs, epochs, learning-rate milestones, images per class, seed, device). Finished runs "
        "are kept, so an interrupted build resumes where it stopped.")
    z.add_argument("--profile", default="quick", choices=list(profiles.PROFILES),
                   help="parameter profile (default: quick)")
    z.add_argument("--arch", required=True, choices=list(nets.ARCHITECTURES), help="architecture")
    z.add_argument("--out", type=Path, default=None,
                   help="zoo folder (default: ZOO_ROOT/<dataset>-<arch>-<profile>, the notebook's folder, where "
                        "ZOO_ROOT is $WSM_ZOOS, else <checkout>/zoos or, installed, the user data folder's zoos; "
                        "with --tasks/--runs a '-t<N>r<M>' suffix is added so a trial never blocks the notebook's zoo)")
    z.add_argument("--data", type=Path, default=None,
                   help="data root holding tiny-imagenet-200.zip (default: $WSM_DATA, else <checkout>/data or, "
                        "installed, the user data folder's data)")
    z.add_argument("--tasks", type=_positive, default=None, help="number of learning tasks (overrides the profile)")
    z.add_argument("--runs", type=_positive, default=None, help="runs per task (overrides the profile)")
    z.add_argument("--device", choices=("cpu", "cuda", "auto"), default=None,
                   help="training device (overrides the profile)")
    z.add_argument("--download", action="store_true", help="download Tiny ImageNet if it is missing")
    z.add_argument("--engine", choices=("local", "ray"), default=None,
                   help="local: this process (default, or $WSM_ENGINE); ray: spread the runs over a Ray cluster, "
                        "each unit of runs a task (bit-identical to local)")
    z.add_argument("--address", default=None, metavar="HOST:PORT",
                   help="the Ray cluster's head (default: $WSM_RAY_ADDRESS, else a local cluster on this machine)")
    _output_options(z)
    z.set_defaults(func=zoo)


def _machine(args) -> bool:
    return bool(getattr(args, "json", False) or getattr(args, "csv", False))


def _emit(args, table, meta: dict, more: dict | None = None) -> None:
    """The result on stdout as JSON (``meta``, the table's rows, then ``more``) or CSV (the table)."""
    if args.json:
        rows = json.loads(table.to_json(orient="records", double_precision=15))
        json.dump({"wsm_version": __version__, **meta, "rows": rows, **(more or {})}, sys.stdout, indent=1,
                  default=str)
        print()
    else:
        table.to_csv(sys.stdout, index=False)


def similarity(args) -> int:
    import pandas as pd

    from wsm.analyses.compare import compare

    notes: list[str] = []
    table = compare(args.a, args.b, depths=args.chains, draws=args.draws, trust=args.trust, notes=notes)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if _machine(args):
        _emit(args, table, dict(command="similarity", a=str(args.a), b=str(args.b), draws=args.draws))
        return 0
    print(f"a: {args.a}\nb: {args.b}\n")
    if args.full or not args.draws:
        with pd.option_context("display.width", 250, "display.max_columns", None):
            print(table.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
        print("\n" + textwrap.fill(EXPLANATION.format(draws=args.draws), 110))
        return 0
    print(_compact(table).to_string(index=False))
    print("\n" + textwrap.fill(COMPACT.format(draws=args.draws), 110))
    return 0


def _compact(table):
    """:func:`wsm.analyses.compare.compare`'s table as one line per chain: the cosine beside its reference's mean and
    range, and where it lies against that range."""
    import pandas as pd

    def where(r):
        return "above" if r.cosine > r.cosine_init_high else "below" if r.cosine < r.cosine_init_low else "within"

    return pd.DataFrame([{"chain": r.chain, "layer": r.layer, "phi": r.phi_shape, "cosine": f"{r.cosine:.4g}",
                          "unrelated": f"{r.cosine_init:.4g} [{r.cosine_init_low:.4g}-{r.cosine_init_high:.4g}]",
                          "vs unrelated": where(r), "raw": f"{r.raw_cosine:.4g} ({r.raw_cosine_init:.4g})"}
                         for r in table.itertuples()])


def _pct(x) -> str:
    return f"{100 * x:.1f}"


def _shown(table, splits: int):
    """:func:`wsm.analyses.own.on_networks`' table as the terminal shows it (percentages, one interval per column)
    and its footnotes: the reason each untested row tested nothing, once per reason."""
    import pandas as pd

    rows, reasons = [], []
    for r in table.itertuples():
        row = {"feature": paper.feature(r.kind, r.depth), "classifier": r.classifier,
               "protocol": r.protocol, "accuracy": f"{_pct(r.accuracy)}%", "n": r.n,
               "ci95": f"{_pct(r.ci_low)}-{_pct(r.ci_high)}%"}
        if splits > 1:
            row[f"{splits} splits"] = f"{_pct(r.split_mean)}% [{_pct(r.split_min)}-{_pct(r.split_max)}]"
        if "null_mean" in table:
            row["shuffled labels"] = f"{_pct(r.null_mean)}% [{_pct(r.null_low)}-{_pct(r.null_high)}] p={r.p_null:.2g}"
        if isinstance(r.untested, str):
            if r.untested not in reasons:
                reasons.append(r.untested)
            mark = f"not tested ({reasons.index(r.untested) + 1})"
            row |= {"paper's rule": "-", "H0 by the interval": mark}
        else:
            row |= {"paper's rule": r.decision, "H0 by the interval": r.evidence}
        rows.append(row)
    return pd.DataFrame(rows), reasons


def hypothesis_test(args) -> int:
    from wsm.maths import htt, verdicts
    from wsm.analyses import own

    classifiers = htt.CLASSIFIERS if args.classifier == "both" else (args.classifier,)
    result = own.on_networks(args.folder, args.labels, depths=args.depths, kinds=args.kinds,
                             protocols=args.protocols, epochs=args.epochs, null_repeats=args.null_repeats,
                             train_fraction=args.train_fraction, task_fraction=args.task_fraction,
                             query_fraction=args.query_fraction, seed=args.seed, alpha=args.alpha, trust=args.trust,
                             progress=sys.stderr.isatty(), splits=args.splits, classifiers=classifiers,
                             memory_gb=args.memory_gb)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if _machine(args):
        _emit(args, result.table, dict(command="htt", folder=str(args.folder),
                                       labels=None if args.labels is None else str(args.labels),
                                       networks=result.n_networks, tasks=result.tasks, chain_layers=result.layers,
                                       settings=result.settings),
              dict(per_network=result.networks, splits=result.splits,
                   similarity={k: v.round(6).tolist() for k, v in result.similarity.items()}))
        return 0
    print(f"{result.n_networks} networks of {len(result.tasks)} tasks in {args.folder}"
          f"{'' if args.labels is None else f' (tasks from {args.labels})'}; chain layers: "
          f"{', '.join(result.layers)}\n")
    shown, reasons = _shown(result.table, args.splits)
    print(shown.to_string(index=False))
    if reasons:
        print()
        for i, why in enumerate(reasons, 1):
            print(textwrap.fill(f"({i}) not tested: {why}", 110, subsequent_indent="    "))
    print("\n" + textwrap.fill(HTT_NOTE.format(alpha=args.alpha, splits=args.splits, delta=verdicts.DELTA), 110))
    return 0


def zoo_settings(args):
    """``(ZooConfig, zoo folder, data root)`` for the ``zoo`` command's arguments: the zoo of the
    notebook's page (:func:`wsm.book.experiments.page`) under the profile, with ``--tasks``/``--runs``/``--device``."""
    from wsm.zoos import data
    from wsm.book import experiments

    page = experiments.page("s4_3_namedata" if args.arch == "gru2" else NOTEBOOK, args.profile,
                            {"device": args.device} if args.device else None, data_root=args.data)
    p = page.settings
    tasks = args.tasks if args.tasks is not None else p["n_tasks"]
    runs = args.runs if args.runs is not None else p["runs"]
    n_available = data.n_tasks(page.dataset)
    if tasks > n_available:
        raise WsmError(f"--tasks {tasks} is too many: {page.dataset} has {n_available} learning tasks")
    trial = "" if (tasks, runs) == (p["n_tasks"], p["runs"]) else f"-t{tasks}r{runs}"   # never blocks the page's zoo
    folder, cfg = page.zoo_for(args.arch, tasks, runs, trial)
    return cfg, Path(args.out) if args.out is not None else folder, page.data_root


def zoo(args) -> int:
    from wsm.zoos import engine, nets

    how = engine.resolve(args.engine, args.address)
    if args.address and how.name != "ray":
        raise WsmError(f"--address {args.address} names a Ray cluster: add --engine ray")
    cfg, out, root = zoo_settings(args)
    info = sys.stderr if _machine(args) else sys.stdout       # --json/--csv: stdout holds the result only
    print(f"{nets.LABELS[cfg.arch]} zoo ({cfg.dataset}, profile {args.profile}): {len(cfg.tasks)} tasks x "
          f"{cfg.runs} runs, {cfg.epochs} epochs (milestones {list(cfg.milestones) or 'none'}), "
          f"{'all' if cfg.train_per_class is None else cfg.train_per_class} training images per class, "
          f"device {cfg.device}", file=info, flush=True)
    print(f"zoo folder: {out}\ndata root: {root}\nengine: {how.name}"
          + (f" ({how.address or 'a local Ray cluster'})" if how.name == "ray" else ""), file=info, flush=True)
    t0 = time.time()
    with contextlib.redirect_stdout(info):          # progress lines outside a terminal go to stdout
        z = how.build_zoo(out, cfg, root, download=args.download)
    t = z.table()
    seconds = time.time() - t0
    if _machine(args):
        _emit(args, t, dict(command="zoo", folder=str(out), data_root=str(root), config=cfg.as_dict(), networks=len(z),
                            train_acc=float(t.train_acc.mean()), test_acc=float(t.test_acc.mean()),
                            diverged=int((~t.finite).sum()), seconds=round(seconds, 1)))
        return 0
    print(f"zoo ready in {out}: {len(z)} networks, mean train accuracy {t.train_acc.mean():.3f}, mean test "
          f"accuracy {t.test_acc.mean():.3f}, diverged {int((~t.finite).sum())} ({seconds:.0f} s)")
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser(argv).parse_args(argv)
    try:
        return args.func(args)
    except (WsmError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:         # stdout closed early (wsm ... --json | head): not an error of ours
        sys.stdout = open(os.devnull, "w")
        return 0
    except KeyboardInterrupt:
        print("error: interrupted (finished zoo runs are kept; run the command again to resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
