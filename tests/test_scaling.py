"""The zoo-size study (wsm.analyses.scaling) on a small synthetic zoo with checkpoints."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from test_zoo import fake_data, fake_task  # noqa: F401  (the fixture)

from wsm.maths import htt, verdicts
from wsm.zoos import engine, zoo
from wsm.analyses import scaling
from wsm.book import experiments

pytestmark = pytest.mark.usefixtures("fake_data")


def protocol(null_repeats=3):
    return experiments.Protocol(chains=(1, 2), layers=(1,), protocols=("classification", "retrieval"),
                                train_fraction=0.6, retrieval_train_fraction=0.6, query_fraction=0.4, seed=0,
                                alpha=0.05, null_repeats=null_repeats,
                                classifier=htt.ClassifierConfig(epochs=20, lr=0.05, milestones=(12,)),
                                device="cpu", gram_cache=None, engine=engine.Engine())


@pytest.fixture
def small_zoo(tmp_path, fake_data):  # noqa: F811
    cfg = zoo.ZooConfig(dataset="tiny-imagenet", arch="mlp4", tasks=(0, 1, 2, 3, 4), runs=5, epochs=2,
                        batch_size=32, checkpoints=(1,))
    return zoo.build_zoo(tmp_path / "z", cfg, progress=False, workers=1)


def test_each_axis_is_swept_with_the_others_at_full_size():
    grid = scaling.cells([1, 3, 10], tasks_grid=[4, 50], runs_grid=[3, 5, 40], n_tasks=10, runs=10)
    assert grid["runs"] == [(10, 10, 3), (10, 10, 5), (10, 10, 10)]          # 40 > 10 runs: left out
    assert grid["tasks"] == [(10, 4, 10), (10, 10, 10)]
    assert grid["epochs"] == [(1, 10, 10), (3, 10, 10), (10, 10, 10)]


def test_the_classifier_keeps_its_number_of_steps_and_where_its_rate_drops():
    cfg = htt.ClassifierConfig(epochs=500, milestones=(300,))
    small = scaling.classifier_for(cfg, 30_000, 60)
    big = scaling.classifier_for(cfg, 30_000, 3_000)
    assert (small.epochs, small.milestones) == (500, (300,))
    assert (big.epochs, big.milestones) == (10, (6,))
    assert scaling.paper_steps() == 30_000
    for profile in ("quick", "paper"):        # the book's slice and the study keep the paper's steps
        assert experiments.page("zoo_size", profile, check_data=False).settings["clf_steps"] == 30_000


def test_a_point_read_from_the_whole_zoos_gram_is_the_test_of_its_own_networks(small_zoo, rounding):
    """A block of the whole zoo's Gram gives what the point's own networks give run alone (the
    embedding centres on the training networks), with the splits of the point's run identities."""
    proto = protocol()
    full, _ = scaling.grams(proto, small_zoo, progress=False)
    point = scaling.Point(epoch=2, tasks=5, runs=4)
    got = scaling.evaluate_point(proto, small_zoo, point, full, steps=300)
    assert set(got.networks) == {20} and set(got.tasks) == {5} and len(got) == 6   # 2 protocols x 3 features
    # a point of 3 tasks leaves retrieval out: its classifier would train on 2 (wsm.maths.htt.retrieval_problem)
    few = scaling.evaluate_point(proto, small_zoo, scaling.Point(epoch=2, tasks=3, runs=4), full, steps=300)
    assert set(few.protocol) == {"classification"} and len(few) == 3
    weights, labels = small_zoo.usable()
    runs = np.asarray(small_zoo.usable_runs())
    keep = np.flatnonzero(np.isin(labels, [0, 1, 2, 3, 4]) & (runs < 4))
    for protocol_name in ("classification", "retrieval"):
        row = got[(got.protocol == protocol_name)]
        cfg = dataclasses.replace(proto.classifier, epochs=int(row.clf_epochs.iloc[0]),
                                  milestones=scaling.classifier_for(proto.classifier, 300,
                                                                    int(row.train_networks.iloc[0])).milestones)
        alone = htt.percent(pd.concat([htt.evaluate([weights[i] for i in keep], np.asarray(labels)[keep], d,
                                                    kinds=(k,), cfg=cfg, progress=False, null_repeats=3,
                                                    protocols=(protocol_name,), runs=runs[keep], runs_per_task=4,
                                                    **proto.splits)
                                       for k, d in (("unnormalized", (1,)), ("normalized", (1, 2)))]))
        # accuracies in percent: counts of test networks, equal in exact arithmetic. The two routes'
        # Grams (a block of the whole zoo's, centred on the whole zoo; the point's own) differ by
        # float rounding (~1e-7 relative: float32 products), so a count moves only if a test network
        # lies within that of a decision boundary; a wrong block or split moves it by 100 / n_test
        # (>= 8 points). allclose's defaults demand equality; met natively, under every rounding
        # perturbation and with AVX2 / SSE4.2 kernels
        assert np.allclose(row.sort_values("feature").ours.to_numpy(),
                           alone.sort_values("feature").ours.to_numpy())
    assert (got.chance[got.protocol == "classification"] == 100 / 5).all()
    assert (got.train_cpu_seconds > 0).all()


def test_checkpoints_give_the_training_length_axis_and_an_interrupted_study_resumes(small_zoo, tmp_path, monkeypatch):
    proto = protocol(null_repeats=0)
    at = scaling.zoos_at({"mlp4": small_zoo})
    assert sorted(at["mlp4"]) == [1, 2] and at["mlp4"][1].runs[0].epoch == 1
    grid = scaling.cells([1, 2], tasks_grid=[3], runs_grid=[3], n_tasks=5, runs=5)
    path = tmp_path / "points.csv"
    real = scaling.evaluate_point
    calls = []

    def stops_after_two(*a, **k):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(a[2])
        return real(*a, **k)

    monkeypatch.setattr(scaling, "evaluate_point", stops_after_two)
    with pytest.raises(KeyboardInterrupt):
        scaling.evaluate(proto, at, grid, 300, path, progress=False)
    kept = scaling.read(path)
    assert len(kept) == 2 * 6 and not list(tmp_path.glob(".*.tmp"))
    monkeypatch.setattr(scaling, "evaluate_point", lambda *a, **k: calls.append(a[2]) or real(*a, **k))
    table, grams = scaling.evaluate(proto, at, grid, 300, path, progress=False)
    assert len(calls) == 4                    # 4 distinct points, the 2 done before not run again
    assert set(table.axis) == set(scaling.AXES)
    full = table[(table.epoch == 2) & (table.tasks == 5) & (table.runs == 5)]
    assert set(full.axis) == set(scaling.AXES)                       # the full-size point lies on every axis
    assert table.holds.isin(verdicts.FOR_NUMBERS[:3]).all()
