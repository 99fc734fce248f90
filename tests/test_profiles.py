import pytest

from wsm import profiles
from wsm.errors import WsmError


def test_every_profile_has_every_notebook_with_the_same_parameter_names():
    for name, nbs in profiles.PROFILES.items():
        assert set(nbs) == set(profiles.NOTEBOOKS), name
        for nb in profiles.NOTEBOOKS:
            assert set(nbs[nb]) == set(profiles.PROFILES["paper"][nb]), (name, nb)
            profiles.check(nb, profiles.parameters(name, nb))


def test_paper_profile_holds_the_papers_settings():
    p = profiles.parameters("paper", "s4_1_tiny_imagenet")
    assert (p["n_tasks"], p["runs"], p["train_fraction"], p["alpha"]) == (50, 100, 0.6, 0.05)
    assert (p["mlp_epochs"], p["mlp_milestones"], p["cnn_epochs"], p["cnn_milestones"]) == (100, [70], 50, [30])
    assert (p["clf_epochs"], p["clf_lr"], p["clf_milestones"]) == (10, 0.001, [6])


def test_unknown_profile_lists_the_valid_ones():
    with pytest.raises(WsmError, match="valid profiles are smoke, quick, paper"):
        profiles.parameters("fast", "s4_1_tiny_imagenet")


def test_unknown_parameter_lists_the_valid_ones():
    with pytest.raises(WsmError, match=r"unknown parameter\(s\) n_taks.*valid parameters are .*n_tasks"):
        profiles.check("s4_1_tiny_imagenet", {"n_taks": 3})


@pytest.mark.parametrize("name,value,message", [
    ("dataset", "imagenet", "valid datasets are tiny-imagenet, cifar100"),
    ("device", "tpu", "valid devices are cpu, cuda, auto"),
    ("runs", 0, "runs must be a positive integer"),
    ("train_fraction", 1.5, "strictly between 0 and 1"),
])
def test_bad_values_are_refused_with_the_valid_range(name, value, message):
    with pytest.raises(WsmError, match=message):
        profiles.check("s4_1_tiny_imagenet", {name: value})
