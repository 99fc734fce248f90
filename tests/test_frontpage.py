"""The book's first page (wsm.book.frontpage): per run, what it shows of the predictions at any scale and of
the paper's numbers at their setting; findings; one sentence per figure with its verdicts and page; what
no run tests; the profile and machine, how to rebuild; and the plain message without results."""

import pandas as pd

from wsm.maths import stats, verdicts
from wsm.report import claims, summary
from wsm.book import frontpage

TEN = claims.Setting("tiny-imagenet", 10, 10, 3)


def _acc(correct, n, **row):
    lo, hi = stats.clopper_pearson(correct, n)
    return dict(ours=100 * correct / n, n=n, ci_low=100 * lo, ci_high=100 * hi, data=TEN.data, tasks=TEN.tasks,
                runs=TEN.runs, epochs=TEN.epochs, train_fraction=0.6, retrieval_train_fraction=0.6, query_fraction=0.2,
                null_mean=10.0, null_low=2.5, null_high=20.0, null_repeats=100, **row)


def _executed(tmp_path, profiles=("smoke",), built="smoke"):
    """An executed folder: per-profile results for Fig. 1, two Fig. 2 chain cells (at 10 tasks) and one
    stand-in Fig. 3 cell, the Fig. 2 page (executed) and the Fig. 1 page's CSV without its notebook, and
    the timings of a run under ``built``."""
    results = tmp_path / "executed" / "results"
    (results / "profiles").mkdir(parents=True)
    fig1 = dict(figure="Fig. 1", panel="a-b", ours=0.0)
    fig2 = [_acc(39, 40, figure="Fig. 2", architecture="MLP-4", protocol="classification", kind="normalized",
                 depth=d, p_null=0.01, chance=10.0) for d in (1, 2)]
    fig3 = dict(figure="Fig. 3", architecture="MLP-4", protocol="classification", kind="normalized", depth=1,
                ours=50.0, ci_low=40.0, ci_high=60.0, n=100, data="cifar100-standin",
                dataset="CIFAR-100 STAND-IN (Tiny ImageNet classes 0-99)")
    for profile in profiles:
        pd.DataFrame([fig1] + fig2 + [fig3]).assign(profile=profile).to_csv(results / "profiles" / f"{profile}.csv",
                                                                            index=False)
    pd.DataFrame([fig1]).to_csv(results / "s3_3_chain_normalization.csv", index=False)
    pd.DataFrame(fig2).to_csv(results / "s4_1_tiny_imagenet.csv", index=False)
    (tmp_path / "executed" / "s4_1_tiny_imagenet.ipynb").write_text("{}")
    pd.DataFrame([dict(notebook=n, profile=built, seconds=1.0, cpus=4, torch_threads=4, machine="x86_64",
                       cpu_model="Test CPU 9000", gpu="") for n in ("s3_3_chain_normalization", "s4_1_tiny_imagenet")]
                 ).to_csv(results / "timings.csv", index=False)
    return tmp_path / "executed"


def test_fragment_says_per_run_what_it_tests_and_links_each_figure(tmp_path):
    text = frontpage.fragment(_executed(tmp_path, profiles=("quick",), built="quick"))
    assert text.startswith("## The verdict\n")
    assert "built with the **`quick` profile** on Test CPU 9000 (4 cores)" in text
    assert "| run | at the paper's setting | predictions at any scale |" in text
    quick = next(line for line in text.splitlines() if line.startswith("| quick |"))
    assert "1 reproduced" in quick and "1 supported" in quick          # Fig. 1; Fig. 2's chains above the null
    assert verdicts.DIFFERENT not in quick                              # nothing compared across settings
    assert "| the paper's zoos on 4 of 50 tasks, our classifier" in text   # the committed slice, said as what it is
    assert "* **quick**: the predictions that hold at any scale: 1 supported of 1 tested" in text
    fig2 = next(line for line in text.splitlines() if line.startswith("* **Fig. 2**"))
    assert "SGD solutions of one task are similar" in fig2 and fig2.endswith("({doc}`executed/s4_1_tiny_imagenet`).")
    assert "not tested" in fig2
    fig3 = next(line for line in text.splitlines() if line.startswith("* **Fig. 3**"))
    assert "Measured here on the CIFAR-100 STAND-IN." in fig3 and verdicts.DIFFERENT not in fig3
    fig1 = next(line for line in text.splitlines() if line.startswith("* **Fig. 1**"))
    assert fig1.endswith("Verdict: **reproduced**.")          # its notebook is not in the folder: no link
    assert sum(line.startswith("* **") and "**:" in line and "Verdict" in line
               for line in text.splitlines()) == len(claims.FIGURES)
    assert "### Findings" in text and "MLP-4 C3 classification is 90.0%" in text     # the committed slice's
    assert "### What no run here tests" in text
    assert "{doc}`executed/summary`" in text and "make reproduce PROFILE=quick" in text and "make book" in text


def test_a_smoke_build_tests_nothing_and_says_so(tmp_path):
    text = frontpage.fragment(_executed(tmp_path))
    assert "only checks that every page runs" in text and "it tests none of the paper's claims" in text
    smoke = next(line for line in text.splitlines() if line.startswith("| smoke |"))
    assert "supported" not in smoke and "not tested" in smoke


def test_sentences_follow_the_profile_the_book_was_built_with(tmp_path):
    text = frontpage.fragment(_executed(tmp_path, profiles=("smoke", "quick"), built="quick"))
    assert "**`quick` profile**" in text and "### The paper's claims under `quick`" in text
    assert "| smoke |" in text and "| quick |" in text
    assert "make reproduce PROFILE=quick" in text


def test_the_tally_is_the_summarys(tmp_path, monkeypatch):
    executed = _executed(tmp_path, profiles=("quick",), built="quick")
    table = summary.table(executed / "results")
    assert frontpage.tally(table).equals(summary.tally(table))


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
