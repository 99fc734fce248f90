"""Before/after time of htt.evaluate on a realistic case: the smoke-sized or a given zoo, with the
quick profile's classifier (500 epochs, 30,000 batch-1 steps over 60 training networks when the zoo
has 10 x 10 runs). "before" = the autograd nn.Linear + torch.optim.SGD classifier (the old
train_classifier, kept as train_classifier_autograd); "after" = the batched fast path.

    python -m bench.bench_evaluate ZOO_FOLDER [--epochs 500] [--null 100]
"""

import argparse
import time

from wsm.maths import htt
from wsm.zoos import zoo


def run(quick: bool = True) -> list[dict]:
    """Not part of ``bench.run``: it needs a trained zoo (see the module's usage line)."""
    return []


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("zoo")
    ap.add_argument("--epochs", type=int, default=500)
    ap.add_argument("--null", type=int, default=100)
    ap.add_argument("--depths", type=int, nargs="*", default=[1])
    args = ap.parse_args()
    w, y = zoo.load_zoo(args.zoo).usable()
    cfg = htt.ClassifierConfig(epochs=args.epochs, milestones=(int(0.6 * args.epochs),))
    fast = htt.train_classifier
    for label, f, null in (("after (fast path)", fast, 0), ("after + null", fast, args.null),
                           ("before (autograd)", htt.train_classifier_autograd, 0)):
        htt.train_classifier = f
        t0 = time.time()
        df = htt.evaluate(w, y, depths=args.depths, cfg=cfg, progress=False, null_repeats=null)
        print(f"{label:22s} {time.time() - t0:7.1f} s  accuracies {df.accuracy.round(3).tolist()}", flush=True)
    htt.train_classifier = fast


if __name__ == "__main__":
    main()
