"""Each page's experiment object (wsm.book.experiments): built under every profile without running
anything, overrides checked in one place, pages that reuse zoos ask their owner, one call evaluates."""

from pathlib import Path

import numpy as np
import pytest
import torch

from wsm.core import profiles
from wsm.maths import htt
from wsm.book import experiments
from wsm.core.errors import WsmError

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def cifar_root(tmp_path):
    """A data root where CIFAR-100 looks present (the paper profile refuses to run without it)."""
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    for name in ("train", "test", "meta"):
        (folder / name).write_bytes(b"")
    return tmp_path


@pytest.mark.parametrize("profile", ["smoke", "quick", "paper"])
def test_every_page_is_built_under_every_profile_without_running_anything(profile, cifar_root, tmp_path):
    for nb in profiles.NOTEBOOKS:
        page = experiments.page(nb, profile, data_root=cifar_root, zoo_root=tmp_path / "zoos")
        assert page.notebook == nb and page.profile == profile and page.scale
        assert page.device in ("cpu", "cuda")
        for name, (folder, cfg) in page.zoos.items():
            assert folder.parent == tmp_path / "zoos" and profile in folder.name
            assert cfg.dataset == page.dataset or nb == "s4_3_namedata"
        if page.protocol is not None:
            assert page.protocol.chains and 0 < page.protocol.alpha < 1
        table = page.table()                          # what the banner shows: every setting
        assert {"page", "protocol"} <= set(table.part) or page.protocol is None
        if page.zoos:
            assert list(page.zoo_table().columns) == list(page.zoos) and "seed" in page.zoo_table().index
    assert not (tmp_path / "zoos").exists()            # nothing was trained or written


def test_paper_profile_holds_the_papers_settings(cifar_root):
    page = experiments.page("s4_1_tiny_imagenet", "paper", data_root=cifar_root)
    mlp, cnn = page.zoos["mlp4"].config, page.zoos["plainnet5"].config
    assert (len(mlp.tasks), mlp.runs, mlp.batch_size, cnn.batch_size) == (50, 100, 128, 128)
    assert (mlp.epochs, mlp.milestones, cnn.epochs, cnn.milestones) == (100, (70,), 50, (30,))
    p = page.protocol
    assert (p.train_fraction, p.retrieval_train_fraction, p.query_fraction, p.alpha) == (0.6, 0.6, 0.2, 0.05)
    assert (p.classifier.epochs, p.classifier.lr, p.classifier.milestones) == (10, 0.001, (6,))
    assert p.chains == p.layers == (1, 2, 3) and p.protocols == ("classification", "retrieval")


def test_paper_profile_refuses_the_cifar_stand_in(tmp_path):
    with pytest.raises(WsmError, match="never substitutes"):
        experiments.page("s4_2_cifar100", "paper", data_root=tmp_path)
    assert experiments.page("s4_2_cifar100", "quick", data_root=tmp_path).dataset == "cifar100-standin"


def test_unknown_profile_notebook_and_setting_list_the_valid_ones():
    with pytest.raises(WsmError, match="valid profiles are smoke, quick, paper"):
        experiments.page("s4_1_tiny_imagenet", "fast")
    with pytest.raises(WsmError, match="valid notebooks are s3_3"):
        experiments.page("s4_9", "quick")
    with pytest.raises(WsmError, match=r"unknown setting\(s\) n_taks .*valid settings are .*n_tasks"):
        experiments.page("s4_1_tiny_imagenet", "smoke", {"n_taks": 3})


@pytest.mark.parametrize("name,value,message", [
    ("dataset", "imagenet", "valid datasets are tiny-imagenet, cifar100"),
    ("device", "tpu", "valid devices are cpu, cuda, auto"),
    ("runs", 0, "runs must be a positive integer"),
    ("train_fraction", 1.5, "strictly between 0 and 1"),
    ("clf_milestones", "6", "list of positive integers"),
    ("null_repeats", -1, "non-negative integer"),
])
def test_bad_values_are_refused_with_the_valid_range(name, value, message):
    with pytest.raises(WsmError, match=message):
        experiments.page("s4_1_tiny_imagenet", "smoke", {name: value})


def test_an_override_of_the_owners_setting_reaches_the_owner(tmp_path):
    fig5 = experiments.page("s4_5_cross_network", "smoke", {"n_tasks": 3, "clf_epochs": 7}, zoo_root=tmp_path)
    assert all(len(s.config.tasks) == 3 for s in fig5.zoos.values())          # Fig. 3's zoo setting
    assert fig5.protocol.classifier.epochs == 7                               # Fig. 5's own
    fig3 = experiments.page("s4_2_cifar100", "smoke", {"n_tasks": 3}, zoo_root=tmp_path)
    assert fig5.zoos["Baseline"] == fig3.zoos["plainnet5"]
    assert fig3.protocol.classifier.epochs != 7                              # the owner's own is untouched
    assert "n_tasks" in experiments.valid_settings("s4_5_cross_network")
    assert "copies" not in experiments.valid_settings("s4_1_tiny_imagenet")


def test_pages_that_reuse_zoos_read_their_owners_folders(tmp_path):
    fig2 = experiments.page("s4_1_tiny_imagenet", "quick", zoo_root=tmp_path)
    iclr = experiments.page("iclr_bottom_up", "quick", zoo_root=tmp_path)
    beyond = experiments.page("beyond_the_paper", "quick", zoo_root=tmp_path)
    assert ({k: iclr.zoos[k] for k in fig2.zoos} == fig2.zoos
            and iclr.only_tasks == {k: tuple(range(6)) for k in fig2.zoos})
    quick = profiles.PROFILES["quick"]
    assert (iclr.n_tasks, fig2.n_tasks) == (quick["iclr_bottom_up"]["n_tasks"], quick["s4_1_tiny_imagenet"]["n_tasks"])
    assert {k: beyond.zoos[k] for k in fig2.zoos} == fig2.zoos and beyond.protocol == fig2.protocol
    assert "mlp4-1epoch" not in beyond.zoos and 1 in fig2.zoos["mlp4"].config.checkpoints  # its checkpoint
    one = experiments.page("beyond_the_paper", "quick", {"mlp_checkpoints": []}, zoo_root=tmp_path)
    one = one.zoos["mlp4-1epoch"].config                                # without: the controls' own zoo, same seeds
    assert one.epochs == 1 and one.tasks == fig2.zoos["mlp4"].config.tasks and one.checkpoints == ()
    with pytest.raises(WsmError, match=f"have {fig2.n_tasks} tasks"):
        experiments.page("iclr_bottom_up", "quick", {"n_tasks": fig2.n_tasks + 1})


def test_scale_sentence_names_every_zoos_schedule():
    page = experiments.page("s4_1_tiny_imagenet", "quick")
    q = profiles.parameters("quick", "s4_1_tiny_imagenet")
    assert page.scale == (f"{q['n_tasks']} tasks x {q['runs']} runs per zoo; MLP-4 {q['mlp_epochs']} epochs; "
                          f"PlainNet-5 {q['cnn_epochs']} epochs at batch {q['cnn_batch_size']}; device {q['device']}")
    fig4 = experiments.page("s4_4_network_variants", "smoke")
    assert "Baseline, Depth, Res5, Leaky 1 epoch; Adam 1 epoch, Adam lr 0.001" in fig4.scale


def test_cuda_is_refused_where_there_is_none(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(WsmError, match="no CUDA GPU is visible"):
        experiments.page("s4_1_tiny_imagenet", "smoke", {"device": "cuda"})
    assert experiments.page("s4_1_tiny_imagenet", "paper", check_data=False).device == "cpu"   # auto


def test_protocol_evaluate_is_htt_evaluate_of_the_pages_settings():
    """One call gives what the pages used to spell out: the same table, row for row."""
    gen = torch.Generator().manual_seed(0)
    means = [torch.randn(6, 5, generator=gen) for _ in range(4)]
    weights = [[means[t] + 0.3 * torch.randn(6, 5, generator=gen), torch.randn(3, 6, generator=gen)]
               for t in range(4) for _ in range(5)]
    labels = np.repeat(np.arange(4), 5)
    page = experiments.page("s4_1_tiny_imagenet", "smoke", {"chains": 2, "null_repeats": 3})
    p = page.protocol
    got = p.evaluate(weights, labels, progress=False)
    want = htt.evaluate(weights, labels, depths=range(1, 3), train_fraction=0.6, retrieval_train_fraction=0.6,
                        query_fraction=0.2, seed=0, cfg=htt.ClassifierConfig(epochs=10, milestones=(6,)),
                        alpha=0.05, progress=False, null_repeats=3)
    assert got.equals(want)


def test_reproduce_set_reaches_every_page_that_has_the_setting_and_refuses_others():
    from wsm.book import reproduce

    o = reproduce.overrides_for(["s4_1_tiny_imagenet", "s3_3_chain_normalization"], ["null_repeats=20", "seed=3"])
    assert o["s4_1_tiny_imagenet"] == {"null_repeats": 20, "seed": 3} and o["s3_3_chain_normalization"] == {"seed": 3}
    with pytest.raises(WsmError, match="no page of s3_3_chain_normalization has such a setting"):
        reproduce.overrides_for(["s3_3_chain_normalization"], ["null_repeats=20"])
    with pytest.raises(WsmError, match="write NAME=VALUE"):
        reproduce.overrides_for(["s4_1_tiny_imagenet"], ["null_repeats"])
    assert reproduce.main(["--profile", "smoke", "--only", "s4_1_tiny_imagenet", "--set", "runs=0"]) == 2


def test_the_paper_scale_of_a_page_follows_the_owner_of_its_zoos():
    assert experiments.paper_scale("s4_1_tiny_imagenet") == {"n_tasks": 50, "runs": 100}
    assert experiments.paper_scale("iclr_bottom_up") == {"n_tasks": 50, "runs": 100}   # its own tasks, s4_1's runs
    assert experiments.paper_scale("s4_3_namedata") == {"n_tasks": 9, "runs": 100}
