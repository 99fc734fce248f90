"""wsm.report.slices: the slice's two devices and the MLP-4 classifier question, on tables made here."""

import pandas as pd
import pytest

from wsm.report import slices

RAW = "raw vec(φ), Eq. 7 (paper)"
CODE = "raw vec(φ), rows normalized (ICLR text, code)"


def _variants(c3: dict[str, list[float]], n: int = 160) -> pd.DataFrame:
    rows = []
    for variant, values in c3.items():
        for seed, v in enumerate(values):
            rows += [dict(variant=variant, seed=seed, feature="C3", ours=v, n=n),
                     dict(variant=variant, seed=seed, feature="L1", ours=93.8, n=n)]
    return pd.DataFrame(rows)


def test_a_variant_above_ours_on_every_seed_makes_it_the_classifiers():
    t = _variants({slices.OURS: [90.0, 91.2, 89.4], RAW: [90.6, 88.8, 91.9], CODE: [96.9, 97.5, 98.1]})
    assert slices.verdict(t) == (slices.CLASSIFIER, CODE)
    words = slices.answer(t)
    assert "classifier choice" in words and CODE in words and "99.1%" in words and "3 split seeds" in words


def test_no_variant_above_ours_on_any_seed_makes_it_the_networks():
    t = _variants({slices.OURS: [90.0, 91.2, 89.4], RAW: [88.1, 90.0, 91.2], CODE: [85.0, 86.9, 87.5]})
    assert slices.verdict(t) == (slices.NETWORKS, None)
    assert "the networks'" in slices.answer(t)


def test_overlapping_ranges_leave_it_unsettled():
    t = _variants({slices.OURS: [90.0, 91.2, 89.4], RAW: [88.1, 92.5, 91.2], CODE: [85.0, 86.9, 87.5]})
    assert slices.verdict(t) == (slices.UNSETTLED, None)
    assert "not settled" in slices.answer(t)


def test_ours_at_the_papers_value_has_no_shortfall():
    t = _variants({slices.OURS: [99.4, 98.8], RAW: [88.1, 92.5]})
    assert slices.verdict(t)[0] == slices.NO_SHORTFALL


def _slice(values, device):
    return pd.DataFrame([dict(architecture="mlp4", protocol="classification", feature=f, ours=v, ci_low=v - 5,
                              ci_high=min(100.0, v + 5), n=160, device=device) for f, v in values.items()])


def test_devices_agree_within_the_interval_of_their_difference():
    t = slices.devices(_slice({"C1": 99.4, "C3": 90.0}, "gpu"), _slice({"C1": 98.8, "C3": 70.0}, "cpu"))
    assert list(t.feature) == ["C1", "C3"]
    assert list(t.agree) == [True, False]
    c3 = t.set_index("feature").loc["C3"]
    assert c3["CPU - GPU"] == pytest.approx(-20.0, abs=0.1) and c3.high < 0
    words = slices.devices_sentence(t)
    assert words.startswith("1 of 2 cells agree") and "C3 -20.0 points" in words


def test_the_page_section_says_what_is_not_run_and_shows_what_is(tmp_path):
    gpu, cpu, var = tmp_path / "gpu.csv", tmp_path / "cpu.csv", tmp_path / "variants.csv"
    items = slices.section(gpu, cpu, var)
    assert [i for i in items if isinstance(i, str) and "not run yet" in i] == items and len(items) == 2
    assert slices.frontpage_lines(var) == []
    _slice({"C1": 99.4, "C3": 90.0}, "gpu").to_csv(gpu, index=False)
    _slice({"C1": 98.8, "C3": 89.4}, "cpu").to_csv(cpu, index=False)
    _variants({slices.OURS: [90.0, 91.2], RAW: [88.1, 90.0]}).to_csv(var, index=False)
    items = slices.section(gpu, cpu, var)
    assert items[0].startswith("**The same zoo on two devices.** 2 of 2 cells agree")
    assert isinstance(items[1], pd.DataFrame) and isinstance(items[3], pd.DataFrame)
    assert "the networks'" in items[2] and "the networks'" in slices.frontpage_lines(var)[2]
