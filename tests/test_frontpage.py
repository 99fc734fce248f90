"""The book's first page (wsm.frontpage): the verdict tally, one sentence per paper claim with its
verdict and page, the profile and machine, how to rebuild; and the plain message without results."""

import pandas as pd

from wsm import frontpage, paper, summary

N = len({(r["figure"], r["sentence"]) for r in paper.REPORTED})      # quoted sentences


def _executed(tmp_path, profiles=("smoke",), built="smoke"):
    """An executed folder: per-profile results for three reported items, the Fig. 2 page (executed)
    and the Fig. 1 page's CSV without its notebook, and the timings of a run under ``built``."""
    results = tmp_path / "executed" / "results"
    (results / "profiles").mkdir(parents=True)
    fig1 = dict(figure="Fig. 1", panel="a-b", ours=0.0)
    fig2 = [dict(figure="Fig. 2", panel="a", kind="normalized", depth=1, ours=99.0, ci_low=95.0, ci_high=100.0),
            dict(figure="Fig. 2", panel="a", kind="unnormalized", depth=1, ours=10.0, ci_low=5.0, ci_high=15.0)]
    fig3 = dict(figure="Fig. 3", panel="a", kind="normalized", depth=1, ours=50.0, ci_low=40.0, ci_high=60.0,
                dataset="CIFAR-100 STAND-IN (Tiny ImageNet classes 0-99)")
    for profile in profiles:
        pd.DataFrame([fig1] + fig2 + [fig3]).assign(profile=profile).to_csv(results / "profiles" / f"{profile}.csv", index=False)
    pd.DataFrame([fig1]).to_csv(results / "s3_3_chain_normalization.csv", index=False)
    pd.DataFrame(fig2).to_csv(results / "s4_1_tiny_imagenet.csv", index=False)
    (tmp_path / "executed" / "s4_1_tiny_imagenet.ipynb").write_text("{}")
    pd.DataFrame([dict(notebook=n, profile=built, seconds=1.0, cpus=4, torch_threads=4, machine="x86_64",
                       cpu_model="Test CPU 9000", gpu="") for n in ("s3_3_chain_normalization", "s4_1_tiny_imagenet")]
                 ).to_csv(results / "timings.csv", index=False)
    return tmp_path / "executed"


def test_fragment_tallies_verdicts_and_links_each_claim_to_its_page(tmp_path):
    text = frontpage.fragment(_executed(tmp_path))
    assert text.startswith("## The verdict\n")
    assert "built with the **`smoke` profile** on Test CPU 9000 (4 cores)" in text
    assert "only checks that every page runs" in text
    # Fig. 1's zero and Fig. 2 (a) C1 (99 in [95, 100] against 99.4) are consistent; Fig. 2 (a) L1 ([5, 15]
    # against 62.9) and Fig. 3's sentence ([40, 60] against "about 98") inconsistent; the rest missing
    assert "| run | consistent | inconsistent | missing | reported |" in text
    assert f"| `smoke` | 2 | 2 | {N - 4} | {N} |" in text
    assert "| `paper settings, 4 of 50 tasks" in text               # a committed larger run, labelled by its scale
    fig2 = next(line for line in text.splitlines() if line.startswith("* **Fig. 2**"))
    assert fig2.endswith("Verdict: 1 consistent, 1 inconsistent, 22 missing of 24 sentences "
                         "({doc}`executed/s4_1_tiny_imagenet`).")
    assert "SGD solutions of one task are similar" in fig2 and "stand-in" not in fig2.lower()
    fig3 = next(line for line in text.splitlines() if line.startswith("* **Fig. 3**"))
    assert "Measured here on the CIFAR-100 STAND-IN. Verdict: **inconsistent**." in fig3
    fig1 = next(line for line in text.splitlines() if line.startswith("* **Fig. 1**"))
    assert fig1.endswith("Verdict: **consistent**.")          # its notebook is not in the folder: no link
    figures = [r["figure"] for r in paper.REPORTED]
    assert sum(line.startswith("* **") for line in text.splitlines()) == len(set(figures))
    assert "{doc}`executed/summary`" in text and "make reproduce PROFILE=smoke" in text and "make book" in text


def test_sentences_follow_the_profile_the_book_was_built_with(tmp_path):
    text = frontpage.fragment(_executed(tmp_path, profiles=("smoke", "quick"), built="quick"))
    assert "**`quick` profile**" in text and "### The paper's claims under `quick`" in text
    assert f"| `smoke` | 2 | 2 | {N - 4} | {N} |" in text and f"| `quick` | 2 | 2 | {N - 4} | {N} |" in text
    assert "make reproduce PROFILE=quick" in text


def test_verdict_columns_are_read_by_their_prefix(tmp_path, monkeypatch):
    """Whatever the summary calls its verdicts (consistent / inconsistent / underpowered here)."""
    table = pd.DataFrame({"figure": ["Fig. 2"] * 3 + ["Table 1"], "item": list("abcd"),
                          "ours (quick)": [1.0] * 4,
                          "verdict (quick)": ["inconsistent", "consistent", "underpowered", "consistent"]})
    monkeypatch.setattr(summary, "table", lambda results_dir, alpha=0.05: table)
    text = frontpage.fragment(_executed(tmp_path, profiles=("quick",), built="quick"))
    assert "| run | consistent | underpowered | inconsistent | reported |" in text
    assert "| `quick` | 2 | 1 | 1 | 4 |" in text
    assert "Verdict: 1 consistent, 1 underpowered, 1 inconsistent of 3 sentences" in text
    assert "* **Table 1**:" in text and "Verdict: **consistent**" in text


def test_no_results_says_so_plainly(tmp_path):
    text = frontpage.fragment(tmp_path / "executed")
    assert "Nothing has been executed yet" in text and "make reproduce" in text and "{doc}" not in text


def test_write_and_the_command_line(tmp_path, capsys):
    executed = _executed(tmp_path)
    assert frontpage.main([str(executed)]) == 0
    assert (executed / "frontpage.md").read_text() == frontpage.fragment(executed)
    assert "frontpage.md" in capsys.readouterr().out


def test_machine_falls_back_to_the_platform_and_names_the_gpu(tmp_path):
    executed = _executed(tmp_path)
    t = pd.read_csv(executed / "results" / "timings.csv").drop(columns="cpu_model")
    t.to_csv(executed / "results" / "timings.csv", index=False)
    assert frontpage.built_with(executed / "results") == ("smoke", "x86_64 (4 cores)")
    t.assign(cpu_model="Test CPU", gpu="NVIDIA H200").to_csv(executed / "results" / "timings.csv", index=False)
    assert frontpage.built_with(executed / "results") == ("smoke", "Test CPU (4 cores) with a NVIDIA H200 GPU")
