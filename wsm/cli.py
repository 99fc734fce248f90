"""The ``wsm`` command line (``python -m wsm``).

    wsm similarity A.pt B.pt [--chains 1 2 3] [--draws N] [--trust]
    wsm htt FOLDER [LABELS.csv] [--depths 1 2 3] [--epochs N] [--null-repeats R] [--seed S] [--alpha A] ...
    wsm zoo --profile quick --arch mlp4 [--out DIR] [--data DIR] [--tasks N] [--runs N]
            [--engine ray [--address HOST:PORT]]
    wsm --version

Every command takes ``--json`` or ``--csv``: the result alone on stdout, machine-readable (notes
and progress go to stderr). Every user-facing problem (a :class:`~wsm.errors.WsmError`) is printed
as one line ``error: <message>`` on stderr with exit status 2, never as a traceback.
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
from wsm.errors import WsmError

NOTEBOOK = "s4_1_tiny_imagenet"     # the notebook whose zoos `wsm zoo` builds
EXPLANATION = (
    "cosine: of the chain-normalized weights phi^l (Eq. 7). It is 1 whenever phi^l of b is a positive multiple of "
    "phi^l of a: a permutation of hidden units (the same function) gives 1, but so does any orthogonal change of "
    "hidden basis and multiplying a layer by a positive number (other functions), so 1 does not mean the two "
    "networks compute the same function. raw_cosine: of the raw l-th layer weights, which a permutation changes. "
    "References: *_init = the same figure for two independently initialized networks of these shapes (what "
    "unrelated networks score; mean of {draws} pairs); *_rotated = network a against a random orthogonal change of "
    "its hidden basis, which chain normalization cannot see.")
HTT_NOTE = (
    "accuracy: top-1 on held-out networks of each task (classification) or rank-1 on networks of unseen tasks "
    "(retrieval), of a linear classifier of the feature (C<l>: chain-normalized phi^l; L<l>: raw layer l). ci95: "
    "exact (Clopper-Pearson) 95% interval. null: the same pipeline with the task labels shuffled, mean [95% band], "
    "and p_null. decision: the paper's rule, accept H0 (the networks of a task are one solution) when the error is "
    "below alpha = {alpha}. evidence: what the interval allows (wsm.htt.evidence).")


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


def _output_options(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--json", action="store_true", help="print the result as JSON on stdout, and nothing else")
    g.add_argument("--csv", action="store_true", help="print the result table as CSV on stdout, and nothing else")


def parser() -> argparse.ArgumentParser:
    from wsm import chain, htt, nets, profiles

    ap = argparse.ArgumentParser(
        prog="wsm", description="Weight similarity of neural networks via the chain normalization rule.",
        epilog="Run 'wsm COMMAND --help' (or python -m wsm COMMAND --help) for the options of a command.")
    ap.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = ap.add_subparsers(dest="command", required=True, title="commands")

    sim = sub.add_parser(
        "similarity", help="compare two saved networks chain by chain, beside reference figures",
        description="Compare two networks of the same architecture chain by chain: cosine similarity and relative "
                    "distance of the chain-normalized weights phi^l, and the cosine similarity of the raw l-th "
                    "layer weights, each beside its references (two independently initialized networks of the "
                    "same shapes; a random orthogonal change of hidden basis, which chain normalization cannot "
                    "see). Files: torch.save(model.state_dict(), path), checkpoints with the state_dict under "
                    "state_dict / model / model_state_dict / net / ..., and wsm zoo run files. Networks: "
                    f"{chain.SUPPORTED}.")
    sim.add_argument("a", metavar="A.pt", help="first network's file")
    sim.add_argument("b", metavar="B.pt", help="second network's file")
    sim.add_argument("--chains", nargs="+", type=_positive, metavar="L",
                     help="chains to compare (default: all, 1..number of chain layers)")
    sim.add_argument("--draws", type=_count, default=3, metavar="N",
                     help="pairs of independently initialized networks behind the *_init references (default 3; "
                          "0 leaves them out)")
    sim.add_argument("--trust", action="store_true",
                     help="also read files that hold pickled objects other than weights (a whole model saved with "
                          "torch.save(model), a TorchScript archive): this runs code from the files, so only for "
                          "files whose source you trust")
    _output_options(sim)
    sim.set_defaults(func=similarity)

    h = sub.add_parser(
        "htt", help="the paper's test on your networks: classify and retrieve networks by task",
        description="Hypothesis-training-testing (the paper's Sections 2-3) on a folder of your own networks of one "
                    "architecture and the task each was trained on: for every chain (chain-normalized phi^l) and "
                    "layer (raw weights), weight classification (a linear classifier trained on some networks of "
                    "each task predicts the task of the others) and weight retrieval (trained on some tasks, it "
                    "ranks networks of unseen tasks), with exact 95% intervals, a permutation null and the "
                    "verdicts. Needs at least 2 networks per task for classification, and 5 tasks with 3 networks "
                    "each for retrieval (its classifier must see at least 3 tasks, and 2 stay unseen).")
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
    h.add_argument("--epochs", type=_positive, default=htt.ClassifierConfig.epochs,
                   help="classifier epochs (default: the paper's 10; the learning rate drops tenfold after 60%%)")
    h.add_argument("--null-repeats", type=_count, default=100, metavar="R",
                   help="label shuffles of the permutation null (default 100; 0 leaves it out)")
    h.add_argument("--train-fraction", type=_fraction, default=0.6, metavar="F",
                   help="share of each task's networks that train the classifier, and of the tasks that train the "
                        "retrieval classifier (default: the paper's 0.6)")
    h.add_argument("--query-fraction", type=_fraction, default=0.2, metavar="F",
                   help="share of each unseen task's networks used as retrieval queries (default: the paper's 0.2)")
    h.add_argument("--seed", type=int, default=0, help="seed of the splits and label shuffles (default 0)")
    h.add_argument("--alpha", type=_fraction, default=0.05, help="significance level of the decision (default 0.05)")
    h.add_argument("--trust", action="store_true", help="also read full pickles (runs code from the files; see "
                                                        "wsm similarity --help)")
    _output_options(h)
    h.set_defaults(func=hypothesis_test)

    z = sub.add_parser(
        "zoo", help=f"train (or resume) a weight zoo with a profile's parameters of notebook {NOTEBOOK}",
        description=f"Train, or resume, the weight zoo that notebook {NOTEBOOK} uses, with that notebook's "
                    "parameters under a profile (tasks, runs, epochs, learning-rate milestones, images per "
                    "class, seed, device). Finished runs are kept, so an interrupted build resumes where it "
                    "stopped.")
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
    return ap


def _machine(args) -> bool:
    return bool(getattr(args, "json", False) or getattr(args, "csv", False))


def _emit(args, table, meta: dict) -> None:
    """The result on stdout as JSON (``meta`` plus the table's rows) or CSV (the table)."""
    if args.json:
        rows = json.loads(table.to_json(orient="records", double_precision=15))
        json.dump({"wsm_version": __version__, **meta, "rows": rows}, sys.stdout, indent=1, default=str)
        print()
    else:
        table.to_csv(sys.stdout, index=False)


def similarity(args) -> int:
    import pandas as pd

    from wsm.compare import compare

    table = compare(args.a, args.b, depths=args.chains, draws=args.draws, trust=args.trust)
    if _machine(args):
        _emit(args, table, dict(command="similarity", a=str(args.a), b=str(args.b), draws=args.draws))
        return 0
    print(f"a: {args.a}\nb: {args.b}\n")
    with pd.option_context("display.width", 250, "display.max_columns", None):
        print(table.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    print("\n" + textwrap.fill(EXPLANATION.format(draws=args.draws), 110))
    return 0


def _shown(table):
    """:func:`wsm.htt.on_networks`' table as the terminal shows it: percentages, one interval per column."""
    import pandas as pd

    rows = []
    for r in table.itertuples():
        row = dict(feature=("C" if r.kind == "normalized" else "L") + str(r.depth), protocol=r.protocol,
                   metric=r.metric, accuracy=f"{100 * r.accuracy:.1f}%", n=r.n,
                   ci95=f"{100 * r.ci_low:.1f}-{100 * r.ci_high:.1f}%")
        if "null_mean" in table:
            row["null"] = f"{100 * r.null_mean:.1f}% [{100 * r.null_low:.1f}-{100 * r.null_high:.1f}]"
            row["p_null"] = f"{r.p_null:.3g}"
        rows.append(row | dict(decision=r.decision, evidence=r.evidence))
    return pd.DataFrame(rows)


def hypothesis_test(args) -> int:
    from wsm import htt

    result = htt.on_networks(args.folder, args.labels, depths=args.depths, kinds=args.kinds,
                             protocols=args.protocols, epochs=args.epochs, null_repeats=args.null_repeats,
                             train_fraction=args.train_fraction, query_fraction=args.query_fraction,
                             seed=args.seed, alpha=args.alpha, trust=args.trust, progress=sys.stderr.isatty())
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if _machine(args):
        _emit(args, result.table, dict(command="htt", folder=str(args.folder),
                                       labels=None if args.labels is None else str(args.labels),
                                       networks=result.n_networks, tasks=result.tasks, chain_layers=result.layers,
                                       settings=result.settings))
        return 0
    print(f"{result.n_networks} networks of {len(result.tasks)} tasks in {args.folder}"
          f"{'' if args.labels is None else f' (tasks from {args.labels})'}; chain layers: "
          f"{', '.join(result.layers)}\n")
    print(_shown(result.table).to_string(index=False))
    print("\n" + textwrap.fill(HTT_NOTE.format(alpha=args.alpha), 110))
    return 0


def zoo_settings(args):
    """``(ZooConfig, zoo folder, data root)`` for the ``zoo`` command's arguments: the zoo of the
    notebook's page (:func:`wsm.experiments.page`) under the profile, with ``--tasks``/``--runs``/``--device``."""
    from wsm import data, experiments

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
    from wsm import engine, nets

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
    args = parser().parse_args(argv)
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
