"""bench.paper_table1 end to end under the smoke profile: the page's rows, the classifier variants, the raw
layer's parts and the times, named by --tag where --set changes the setting (needs the data root)."""

import pandas as pd
import pytest

from bench import paper_table1


def test_a_changed_setting_needs_a_name_of_its_own(tmp_path, capsys):
    with pytest.raises(SystemExit):
        paper_table1.main(["--profile", "smoke", "--zoos", str(tmp_path), "--out", str(tmp_path), "--set", "lr=0.005"])
    assert "--tag" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())                                # nothing trained, nothing written


def test_the_bench_writes_its_files_at_the_setting_it_was_given(tmp_path):
    out = tmp_path / "out"
    assert paper_table1.main(["--profile", "smoke", "--zoos", str(tmp_path / "zoos"), "--out", str(out),
                              "--seeds", "0", "--set", "lr=0.005", "--set", "step_milestones=[]",
                              "--tag", "authors_lr"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [f"table1_smoke_authors_lr{s}.csv" for s in
                                                     ("", "_classifiers", "_raw_parts", "_times")]
    rows = pd.read_csv(out / "table1_smoke_authors_lr.csv")
    assert rows.scale.str.contains("lr 0.005 / 10 after never").all()
    assert set(rows.protocol) == {"classification", "retrieval"} and rows.ours.between(0, 100).all()
    times = pd.read_csv(out / "table1_smoke_authors_lr_times.csv")
    assert (times.overrides == "lr=0.005 step_milestones=[]").all() and (times.profile == "smoke").all()
    parts = pd.read_csv(out / "table1_smoke_authors_lr_raw_parts.csv")
    assert len(parts) == 2 * 2 and set(parts.seed) == {0}              # 2 parts x 2 protocols x 1 split seed
