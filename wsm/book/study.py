"""``make study``: the zoo-size study (:mod:`wsm.analyses.scaling`) at :data:`wsm.core.profiles.STUDY`, trained (or
resumed) into its own zoo root, every point tested, and the table the book's zoo-size page draws written
to ``book/scaling/``."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import pandas as pd

from wsm.core import paths, profiles
from wsm.analyses import scaling
from wsm.report import results
from wsm.book import experiments
from wsm.core.errors import WsmError


def main(argv=None) -> int:
    """``python -m wsm.book.study``: the zoo-size study at :data:`wsm.core.profiles.STUDY` (``make study``)."""
    ap = argparse.ArgumentParser(prog="python -m wsm.book.study", description=(
        "The zoo-size study: train (or resume) one zoo per architecture with checkpoints in <zoo root>/study, "
        "test every point, and write the table the book's zoo-size page draws. Resumable: run it again after "
        "an interruption."))
    ap.add_argument("--out", default=str(paths.REPO / "book" / "scaling"),
                    help="folder of study.csv and study_grams.csv (default: the book's)")
    ap.add_argument("--zoo-root", default=None, help="where the study's zoos live (default <zoo root>/study)")
    args = ap.parse_args(argv)
    try:
        page = experiments.page("zoo_size", "quick", profiles.STUDY,
                                zoo_root=Path(args.zoo_root) if args.zoo_root else paths.zoo_root() / "study")
        print(f"[study] {page.scale}", flush=True)
        t0 = time.time()
        zoos, built = page.build_zoos()
        print(built.to_string(), flush=True)
        out = Path(args.out)
        notes = dict(machine=results.cpu_model() or platform.machine(), cpus=os.cpu_count())
        table, grams_table = scaling.run(page, zoos, out / "study_points.csv", notes=notes)
        scaling.write(table, out / "study.csv")
        (out / "study_points.csv").unlink(missing_ok=True)
        old = scaling.read(out / "study_grams.csv") if (out / "study_grams.csv").exists() else pd.DataFrame()
        grams_table = pd.concat([old, grams_table.assign(**notes)], ignore_index=True)
        grams_table = grams_table.drop_duplicates(["architecture", "epoch", "feature"], keep="last")
        scaling.write(grams_table, out / "study_grams.csv")
        print(f"[study] {len(table)} rows in {out / 'study.csv'} ({time.time() - t0:.0f} s)", flush=True)
    except WsmError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
