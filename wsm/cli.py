"""The ``wsm`` command line (``python -m wsm``).

    python -m wsm similarity A.pt B.pt [--chains 1 2 3]
    python -m wsm zoo --profile quick --arch mlp4 [--out DIR] [--data DIR] [--tasks N] [--runs N]
                      [--engine ray [--address HOST:PORT]]

Every user-facing problem (a :class:`~wsm.errors.WsmError`) is printed as one line
``error: <message>`` on stderr with exit status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from wsm.errors import WsmError

NOTEBOOK = "s4_1_tiny_imagenet"     # the notebook whose zoos `wsm zoo` builds
EXPLANATION = ("cosine 1.0 = identical up to a permutation of hidden units (chain-normalized weights phi, "
               "Eq. 7); raw_cosine compares the raw l-th layer weights, which such a permutation changes.")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def parser() -> argparse.ArgumentParser:
    from wsm import nets, profiles

    ap = argparse.ArgumentParser(
        prog="wsm", description="Weight similarity of neural networks via the chain normalization rule.",
        epilog="Run 'wsm COMMAND --help' (or python -m wsm COMMAND --help) for the options of a command.")
    sub = ap.add_subparsers(dest="command", required=True, title="commands")

    sim = sub.add_parser(
        "similarity", help="compare two saved networks chain by chain (cosine 1 = same up to a permutation)",
        description="Compare two networks of the same architecture (files written by "
                    "torch.save(model.state_dict(), path), or wsm zoo run files) chain by chain: cosine "
                    "similarity and relative distance of the chain-normalized weights phi^l, and the cosine "
                    "similarity of the raw l-th layer weights. Supported are networks built from nn.Linear "
                    "and nn.Conv2d (biases, BatchNorm and pooling are ignored).")
    sim.add_argument("a", metavar="A.pt", help="first network's state_dict file")
    sim.add_argument("b", metavar="B.pt", help="second network's state_dict file")
    sim.add_argument("--chains", nargs="+", type=_positive, metavar="L",
                     help="chains to compare (default: all, 1..number of weight layers)")
    sim.set_defaults(func=similarity)

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
                        "ZOO_ROOT is $WSM_ZOOS or <repo>/zoos; with --tasks/--runs a '-t<N>r<M>' suffix is "
                        "added so a trial never blocks the notebook's zoo)")
    z.add_argument("--data", type=Path, default=None,
                   help="data root holding tiny-imagenet-200.zip (default: $WSM_DATA, else <repo>/data)")
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
    z.set_defaults(func=zoo)
    return ap


def similarity(args) -> int:
    import pandas as pd

    from wsm.compare import compare

    for path in (args.a, args.b):
        if not Path(path).is_file():       # before loading anything, so the message names the file
            what = "is a folder, not a file" if Path(path).is_dir() else "does not exist"
            raise WsmError(f"{path} {what}: give the path of a file written by "
                           "torch.save(model.state_dict(), path)")
    table = compare(args.a, args.b, depths=args.chains)
    print(f"a: {args.a}\nb: {args.b}\n")
    with pd.option_context("display.width", 200, "display.max_columns", None):
        print(table.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    print(f"\n{EXPLANATION}")
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
    print(f"{nets.LABELS[cfg.arch]} zoo ({cfg.dataset}, profile {args.profile}): {len(cfg.tasks)} tasks x "
          f"{cfg.runs} runs, {cfg.epochs} epochs (milestones {list(cfg.milestones) or 'none'}), "
          f"{'all' if cfg.train_per_class is None else cfg.train_per_class} training images per class, "
          f"device {cfg.device}", flush=True)
    print(f"zoo folder: {out}\ndata root: {root}\nengine: {how.name}"
          + (f" ({how.address or 'a local Ray cluster'})" if how.name == "ray" else ""), flush=True)
    t0 = time.time()
    z = how.build_zoo(out, cfg, root, download=args.download)
    t = z.table()
    print(f"zoo ready in {out}: {len(z)} networks, mean train accuracy {t.train_acc.mean():.3f}, mean test "
          f"accuracy {t.test_acc.mean():.3f}, diverged {int((~t.finite).sum())} ({time.time() - t0:.0f} s)")
    return 0


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (WsmError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted (finished zoo runs are kept; run the command again to resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
