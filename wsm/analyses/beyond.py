"""The "Beyond the paper" page's experiments on Fig. 2's zoos, so the page only shows what they return.

* :func:`fig2_null`: the Fig. 2 page's permutation null, read from its results;
* :func:`controls_table`: the controls with known answers on the MLP-4 zoo (the same seeds at
  initialisation, after one epoch and trained; fewer runs per task; a task with shuffled labels;
  permuted copies of one network per task), with the centred Grams it computed for reuse;
* :func:`rotations`: an orthogonal rotation of hidden units, which φ cannot see;
* :func:`baselines_table`: weight matching, linear CKA, raw weights and chain normalization with
  nearest-neighbour protocols on the same networks and splits, beside Fig. 2's trained classifier;
* :func:`rows`: all of it as the page's results rows.

Every function calls the primitives of :mod:`wsm.analyses.controls` and :mod:`wsm.analyses.baselines` in the page's
order, so the page's numbers do not depend on where the loop is written.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from wsm.maths import chain
from wsm.zoos import data, nets
from wsm.analyses import baselines, controls

NULL_COLUMNS = ["panel", "architecture", "protocol", "kind", "depth", "ours", "null_mean", "null_low", "null_high",
                "p_null", "p_error_below_alpha"]
FEATURES = {"normalized": "C1", "unnormalized": "L1"}


def fig2(results_dir) -> pd.DataFrame:
    """The Fig. 2 page's results rows in ``results_dir`` (empty where it has not run there)."""
    path = results_dir / "s4_1_tiny_imagenet.csv"
    return pd.read_csv(path) if path.exists() else pd.DataFrame()


def fig2_null(fig2_rows: pd.DataFrame) -> pd.DataFrame:
    """Each Fig. 2 cell with its permutation null (empty where the Fig. 2 page ran without one)."""
    return fig2_rows[NULL_COLUMNS] if "p_null" in fig2_rows else pd.DataFrame()


def sources(labels) -> list[int]:
    """The first network of each task (the one the permuted copies and the rotation start from)."""
    return [i for i in range(len(labels)) if i == np.flatnonzero(labels == labels[i])[0]]


def controls_table(page, zoos) -> tuple[pd.DataFrame, dict]:
    """The controls on ``zoos["mlp4"]`` with the page's protocol (classification, C1 and L1): one row
    per control, setting and feature (accuracy, n, the null's mean where there is one), and the centred
    chain-1 Grams by ``(epochs, kind)`` for :func:`baselines_table` to reuse."""
    proto, s = page.protocol, page.settings
    cache, seed = proto.gram_cache, proto.seed
    mlp = zoos["mlp4"]
    w_trained, y_trained = mlp.usable()
    cfg, mlp_epochs = mlp.config, mlp.config.epochs
    zoo_1 = controls.after_epochs(zoos, "mlp4", 1)   # the same seeds after one epoch (its checkpoint, or a twin)
    stages = {0: (*controls.initial_weights(cfg), None), 1: (*zoo_1.usable(), zoo_1.usable_runs()),
              mlp_epochs: (w_trained, y_trained, mlp.usable_runs())}    # each stage split by run identity
    grams, control = {}, []
    for epochs, (w, y, run_ids) in stages.items():
        for kind in FEATURES:
            grams[(epochs, kind)] = chain.gram(w, 1, kind, center=True, progress=False, cache=cache,
                                               device=proto.device)
            c = proto.classification(grams[(epochs, kind)], y, runs=run_ids, runs_per_task=cfg.runs)
            control.append(dict(control="epochs", setting=epochs, kind=kind, accuracy=c.top1, n=c.n_test,
                                null_mean=c.null.mean() if c.null is not None else np.nan))
    for r in (r for r in s["runs_grid"] if r <= s["runs"]):
        keep = controls.subsample_runs(y_trained, r, seed)
        for kind in FEATURES:
            k = grams[(mlp_epochs, kind)][np.ix_(keep, keep)]
            c = proto.classification(k, y_trained[keep], null=False)
            control.append(dict(control="runs per task", setting=r, kind=kind, accuracy=c.top1, n=c.n_test))
    control += _shuffled_task(page, mlp, w_trained, y_trained)
    control += _permuted_copies(page, mlp, y_trained)
    control = pd.DataFrame(control)
    return control.assign(feature=control.kind.map(FEATURES)), grams


def _shuffled_task(page, mlp, w_trained, y_trained) -> list[dict]:
    """(b) one more "task": task 0's images with shuffled labels; its recall and everything's top-1."""
    proto, s = page.protocol, page.settings
    shuffled_runs = s["shuffled_runs"]
    shuffled = controls.train_shuffled_runs(mlp.config, 0, shuffled_runs, s["shuffled_per_class"], page.data_root)
    keep = controls.subsample_runs(y_trained, shuffled_runs, proto.seed)
    w_sh = [w_trained[i] for i in keep] + shuffled
    y_sh = np.concatenate([y_trained[keep], np.full(shuffled_runs, 999)])
    out = []
    for kind in FEATURES:
        c = proto.classification(chain.gram(w_sh, 1, kind, center=True, progress=False, device=proto.device), y_sh,
                                 null=False)
        hit = c.truth == 999
        out.append(dict(control="shuffled-label task recall", setting=shuffled_runs, kind=kind,
                        accuracy=float((c.predictions[hit] == 999).mean()), n=int(hit.sum())))
        out.append(dict(control="shuffled-label task, all tasks", setting=shuffled_runs, kind=kind,
                        accuracy=c.top1, n=c.n_test))
    return out


def _permuted_copies(page, mlp, y_trained) -> list[dict]:
    """(c) permuted copies of the first network of each task, each copy labelled by its source."""
    proto, copies = page.protocol, page.settings["copies"]
    w_pc, y_pc = [], []
    for i in sources(y_trained):
        net = nets.build("mlp4", 4)
        net.load_state_dict(mlp.runs[i].state_dict)
        copied = [chain.layer_weights(c) for c in controls.permuted_copies(net, copies, proto.seed + i)]
        w_pc += copied
        y_pc += [i] * len(copied)
    y_pc = np.array(y_pc)
    return [dict(control="permuted copies", setting=copies, kind=kind, accuracy=c.top1, n=c.n_test)
            for kind in FEATURES
            for c in [proto.classification(chain.gram(w_pc, 1, kind, center=True, progress=False,
                                                      device=proto.device), y_pc, null=False)]]


def probe(page):
    """The fixed probe batch of test images (``probe_per_task`` of each task) for CKA and the rotation."""
    return baselines.probe_batch(page.dataset, range(page.settings["n_tasks"]), page.settings["probe_per_task"],
                                 page.data_root)


def rotations(page, mlp, probe_batch) -> pd.DataFrame:
    """(d) :func:`wsm.analyses.controls.rotation_check` on the first ``rotation_nets`` sources: φ, weight and
    output change under a random orthogonal rotation of every hidden layer's units."""
    _, y = mlp.usable()
    return pd.DataFrame([controls.rotation_check(mlp.runs[i].state_dict, "mlp4", 4, probe_batch,
                                                 page.protocol.seed + i)
                         for i in sources(y)[:page.settings["rotation_nets"]]])


def baselines_table(page, zoos, probe_batch, grams: dict, fig2_rows: pd.DataFrame) -> pd.DataFrame:
    """Nearest-neighbour classification and similarity retrieval with each method's similarity (raw
    weights, weight matching, linear CKA, φ cosine) at ``baseline_depths``, on MLP-4 and PlainNet-5,
    with Fig. 2's trained-classifier cells beside them where the Fig. 2 page ran."""
    s = page.settings
    base = []
    for arch in ("mlp4", "plainnet5"):
        base += _baselines_of(page, arch, zoos[arch], probe_batch, grams)
        if len(fig2_rows):
            f = fig2_rows[(fig2_rows.architecture == nets.LABELS[arch]) & (fig2_rows.kind == "normalized")
                          & fig2_rows.depth.isin(s["baseline_depths"])]
            base += [dict(architecture=r.architecture, method="chain normalization φ, F_l (Fig. 2)",
                          depth=int(r.depth), protocol=r.protocol, metric=r.metric, accuracy=r.ours / 100, n=int(r.n))
                     for r in f.itertuples()]
    return pd.DataFrame(base)


def _baselines_of(page, arch, z, probe_batch, grams) -> list[dict]:
    proto, s = page.protocol, page.settings
    mlp_epochs = z.config.epochs
    w, y = z.usable()
    runs_ok = [r for r in z.runs if r.finite]
    aligned = baselines.aligned_features(w, s["baseline_depths"], max_sweeps=s["wm_sweeps"])
    out = []
    for depth in s["baseline_depths"]:
        sims = {
            "raw weights, cosine": baselines.cosine_matrix(np.stack([x[depth - 1].reshape(-1).numpy() for x in w])),
            "weight matching, cosine": baselines.cosine_matrix(aligned[depth]),
            "linear CKA": baselines.cka_matrix([baselines.hidden_activations(r.state_dict, arch, 4, probe_batch, depth)
                                                for r in runs_ok]),
            "chain normalization φ, cosine": baselines.cosine_from_gram(
                grams[(mlp_epochs, "normalized")] if (arch, depth) == ("mlp4", 1) else
                chain.gram(w, depth, "normalized", center=True, progress=False, cache=proto.gram_cache,
                           device=proto.device)),
        }
        for method, sim in sims.items():
            for row in baselines.protocols(sim, y, runs=z.usable_runs(), runs_per_task=z.config.runs, **proto.splits):
                out.append(dict(architecture=nets.LABELS[arch], method=method, depth=depth) | row)
    return out


def rows(page, control: pd.DataFrame, rot: pd.DataFrame, base: pd.DataFrame, probe_size: int) -> pd.DataFrame:
    """The page's results rows (figure "Beyond"): each control, each rotation measure, each baseline."""
    out = [dict(panel=r.control, architecture="MLP-4", depth=1, kind=r.kind, protocol="classification",
                metric=f"top-1 ({r.control} = {r.setting})", ours=100 * r.accuracy, n=r.n)
           for r in control.itertuples()]
    out += [dict(panel="rotation", architecture="MLP-4", depth=np.nan, kind="", protocol="rotation", metric=col,
                 ours=r[col] if col != "same_prediction" else 100 * r[col], n=probe_size)
            for _, r in rot.iterrows() for col in ("phi_change", "weight_change", "output_change", "same_prediction")]
    out += [dict(panel="baselines", architecture=r.architecture, depth=r.depth, kind=r.method, protocol=r.protocol,
                 metric=r.metric, ours=100 * r.accuracy, n=r.n) for r in base.itertuples()]
    return pd.DataFrame([dict(figure="Beyond", paper=np.nan, profile=page.profile,
                              dataset=data.short_name(page.dataset), scale=page.scale) | r for r in out])
