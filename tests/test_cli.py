"""wsm.compare (bring your own networks) and the command line (python -m wsm).

No dataset is needed: networks are tiny and freshly initialised; the zoo command is only run up to
the point where it looks for the dataset."""

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from wsm import chain, cli, paths
from wsm.compare import compare, factor_similarity, load_weights
from wsm.errors import WsmError

REPO = Path(__file__).resolve().parent.parent


def mlp(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 5))


def cnn(seed):
    """Chain 1 has n = 27 <= k = 32 rows (phi formed), chains 2-3 have n = 243 > k (kernel path)."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(32), nn.MaxPool2d(2),
                         nn.Conv2d(32, 6, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(6),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 4))


def permuted(net, seed=1):
    """A copy of ``net`` with every hidden layer's units randomly permuted (same function)."""
    g = torch.Generator().manual_seed(seed)
    other = copy.deepcopy(net)
    widths = [w.shape[0] for w in chain.layer_weights(net)]
    for layer, width in enumerate(widths[:-1], start=1):
        perm = torch.randperm(width, generator=g)
        while torch.equal(perm, torch.arange(width)):
            perm = torch.randperm(width, generator=g)
        chain.permute_hidden(other, layer, perm)
    return other


# ----------------------------------------------------------------------------------------------
# compare()


@pytest.mark.parametrize("build, x", [(mlp, torch.randn(7, 20)), (cnn, torch.randn(3, 3, 8, 8))])
def test_permuted_copy_has_cosine_one_and_raw_cosine_below_one(build, x):
    a = build(0)
    with torch.no_grad():                       # non-trivial BatchNorm statistics
        for m in a.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2)
    b = permuted(a)
    a.eval(), b.eval()
    assert torch.allclose(a(x), b(x), atol=1e-5)           # the permutation kept the function
    table = compare(a, b)
    n_layers = len(chain.layer_weights(a))
    assert table.chain.tolist() == list(range(1, n_layers + 1))
    assert (table.cosine - 1).abs().max() < 1e-9
    assert table.relative_distance.max() < 1e-6
    assert (table.raw_cosine < 0.99).all()                 # every layer has permuted rows or columns
    # state_dicts give the same table as modules
    same = compare(a.state_dict(), b.state_dict())
    assert same[["chain", "layer", "phi_shape"]].equals(table[["chain", "layer", "phi_shape"]])
    assert (same.cosine - table.cosine).abs().max() < 1e-12


@pytest.mark.parametrize("build", [mlp, cnn])
def test_independent_networks_differ(build):
    table = compare(build(0), build(1))
    assert (table.cosine[table.chain >= 2] < 0.95).all()
    assert (table.relative_distance[table.chain >= 2] > 0.1).all()


def test_table_columns_shapes_and_depths():
    table = compare(cnn(0), cnn(1), depths=[3, 1])
    assert list(table.columns) == ["chain", "layer", "phi_shape", "cosine", "relative_distance", "raw_cosine"]
    assert table.chain.tolist() == [3, 1]
    assert table.phi_shape.tolist() == ["243x243", "27x27"]
    assert table.layer.tolist() == ["9.weight", "0.weight"]
    with pytest.raises(WsmError, match=r"chain 4 does not exist.*chains 1\.\.3"):
        compare(cnn(0), cnn(1), depths=[4])


@pytest.mark.parametrize("build", [mlp, cnn])
def test_kernel_identity_equals_explicit_phi(build):
    """<phi_a, phi_b> = ||M_a^T M_b||^2: the table equals a plain torch computation on formed phi."""
    a, b = build(0), build(1)
    table = compare(a, b)
    wa = [w.double() for w in chain.layer_weights(a)]
    wb = [w.double() for w in chain.layer_weights(b)]
    for row in table.itertuples():
        pa, pb = chain.phi(wa, row.chain), chain.phi(wb, row.chain)
        na, nb = pa.norm(), pb.norm()
        assert row.cosine == pytest.approx(((pa * pb).sum() / (na * nb)).item(), rel=1e-10, abs=1e-12)
        assert row.relative_distance == pytest.approx(((pa - pb).norm() / ((na + nb) / 2)).item(), rel=1e-8)
        raw = torch.nn.functional.cosine_similarity(wa[row.chain - 1].flatten(), wb[row.chain - 1].flatten(), dim=0)
        assert row.raw_cosine == pytest.approx(raw.item(), rel=1e-10, abs=1e-12)
        ma, mb = chain.chain_factor(wa, row.chain), chain.chain_factor(wb, row.chain)
        kernel, formed = factor_similarity(ma, mb, "kernel"), factor_similarity(ma, mb, "phi")
        assert kernel["cosine"] == pytest.approx(formed["cosine"], rel=1e-12)
        assert kernel["relative_distance"] == pytest.approx(formed["relative_distance"], rel=1e-8)


def test_load_weights_from_files_state_dicts_and_modules(tmp_path):
    net = cnn(0)
    torch.save(net.state_dict(), tmp_path / "plain.pt")
    torch.save({"state_dict": net.state_dict(), "task": 3, "classes": [0, 1]}, tmp_path / "zoo_run.pt")
    expected = chain.layer_weights(net)
    for source in (net, net.state_dict(), tmp_path / "plain.pt", str(tmp_path / "zoo_run.pt")):
        got = load_weights(source)
        assert len(got) == len(expected) and all(torch.equal(g, e) for g, e in zip(got, expected))


@pytest.mark.parametrize("sd, message", [
    (nn.GRU(4, 3).state_dict(), "'weight_ih_l0'.*recurrent"),
    (nn.Sequential(nn.Linear(4, 4), nn.MultiheadAttention(4, 2)).state_dict(), "'1.in_proj_weight'.*attention"),
    (nn.Sequential(nn.Conv1d(3, 4, 3)).state_dict(), r"'0.weight'.*3-D.*Conv1d"),
    (nn.Sequential(nn.Conv3d(3, 4, 3)).state_dict(), r"'0.weight'.*5-D.*Conv3d"),
    (nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 2)).state_dict(),
     r"layer 2 \(2.weight\).*takes 144 inputs but layer 1 \(0.weight\) has 4 outputs"),
    (nn.Sequential(nn.Conv2d(3, 8, 3), nn.ConvTranspose2d(8, 5, 3)).state_dict(), r"layer 2 \(1.weight\)"),
    ({"bn.weight": torch.ones(3)}, "no weight layers"),
])
def test_unsupported_layers_are_named(sd, message):
    with pytest.raises(WsmError, match=message):
        load_weights(sd)


def test_unsupported_modules_and_bad_files(tmp_path):
    with pytest.raises(WsmError, match="not supported"):
        load_weights(nn.Sequential(nn.Linear(3, 3), nn.LSTM(3, 3)))
    with pytest.raises(WsmError, match="nope.pt does not exist"):
        load_weights(tmp_path / "nope.pt")
    (tmp_path / "junk.pt").write_text("not a torch file")
    with pytest.raises(WsmError, match="junk.pt cannot be read as a PyTorch file"):
        load_weights(tmp_path / "junk.pt")
    torch.save(nn.Linear(2, 2), tmp_path / "model.pt")
    with pytest.raises(WsmError, match=r"model.pt holds a pickled torch.nn.modules.linear.Linear.*state_dict\(\)"):
        load_weights(tmp_path / "model.pt")


def test_mismatched_networks_name_the_layer():
    small = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 4, 3))
    with pytest.raises(WsmError, match=r"layer 1 \(0.weight\): \(16, 3, 3, 3\) in network a vs \(8, 3, 3, 3\)"):
        compare(nn.Sequential(nn.Conv2d(3, 16, 3), nn.Conv2d(16, 4, 3)), small)
    with pytest.raises(WsmError, match="network a has 3 weight layers but network b has 2"):
        compare(mlp(0), nn.Sequential(nn.Linear(20, 16), nn.Linear(16, 12)))
    broken = mlp(1)
    with torch.no_grad():
        broken[2].weight[0, 0] = float("nan")
    with pytest.raises(WsmError, match="layer 2.weight of network b has non-finite weights"):
        compare(mlp(0), broken)


# ----------------------------------------------------------------------------------------------
# the command line, end to end


def wsm(*args, env=None):
    env = {k: v for k, v in os.environ.items() if k != "WSM_DOWNLOAD"} | (env or {})
    return subprocess.run([sys.executable, "-m", "wsm", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def assert_one_line_error(proc, *fragments):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_cli_similarity_prints_one_row_per_chain(tmp_path):
    a = cnn(0)
    torch.save(a.state_dict(), tmp_path / "a.pt")
    torch.save({"state_dict": permuted(a).state_dict()}, tmp_path / "b.pt")     # a zoo-style file
    proc = wsm("similarity", tmp_path / "a.pt", tmp_path / "b.pt")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["chain"])
    assert lines[header].split() == ["chain", "layer", "phi_shape", "cosine", "relative_distance", "raw_cosine"]
    rows = [line.split() for line in lines[header + 1:] if line.strip() and line.split()[0].isdigit()]
    assert [r[0] for r in rows] == ["1", "2", "3"]
    assert [r[2] for r in rows] == ["27x27", "243x243", "243x243"]
    assert all(r[3] == "1" for r in rows)                                    # cosine, 4 significant digits
    assert "identical up to a permutation of hidden units" in proc.stdout


def test_cli_errors_are_one_line_naming_the_problem(tmp_path):
    torch.save(nn.Sequential(nn.Conv2d(3, 16, 3), nn.Conv2d(16, 4, 3), nn.Linear(4, 2)).state_dict(), tmp_path / "a.pt")
    torch.save(nn.Sequential(nn.Conv2d(3, 16, 3), nn.Conv2d(16, 8, 3), nn.Linear(8, 2)).state_dict(), tmp_path / "b.pt")
    torch.save(nn.GRU(4, 3).state_dict(), tmp_path / "gru.pt")
    assert_one_line_error(wsm("similarity", tmp_path / "a.pt", tmp_path / "b.pt"),
                          "layer 2 (1.weight): (4, 16, 3, 3) in", "vs (8, 16, 3, 3) in", "b.pt")
    assert_one_line_error(wsm("similarity", tmp_path / "a.pt", tmp_path / "gru.pt"), "weight_ih_l0", "gru.pt")
    assert_one_line_error(wsm("similarity", tmp_path / "a.pt", tmp_path / "missing.pt"), "missing.pt does not exist")


def test_cli_zoo_without_dataset_names_the_archive(tmp_path):
    proc = wsm("zoo", "--profile", "smoke", "--arch", "mlp4", "--tasks", 1, "--runs", 1,
               "--data", tmp_path / "nodata", "--out", tmp_path / "zoo", env={"WSM_ZOOS": str(tmp_path / "zoos")})
    assert_one_line_error(proc, "tiny-imagenet-200.zip", str(tmp_path / "nodata"))


def test_cli_help_lists_the_commands():
    proc = wsm("--help")
    assert proc.returncode == 0
    assert "similarity" in proc.stdout and "zoo" in proc.stdout and "permutation" in proc.stdout


@pytest.mark.parametrize("args, valid", [
    (["zoo", "--profile", "huge", "--arch", "mlp4"], "'smoke', 'quick', 'paper'"),
    (["zoo", "--arch", "resnet"], "'mlp4', 'plainnet5'"),
    (["zoo", "--arch", "mlp4", "--runs", "0"], "positive integer"),
    (["similarity", "a.pt", "b.pt", "--chains", "x"], "positive integer"),
])
def test_cli_refuses_bad_arguments_listing_valid_values(args, valid, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(args)
    assert exit_.value.code == 2
    assert valid in capsys.readouterr().err


def test_cli_zoo_settings_follow_the_notebook_profile(tmp_path, monkeypatch):
    monkeypatch.setenv("WSM_ZOOS", str(tmp_path))
    args = cli.parser().parse_args(["zoo", "--profile", "smoke", "--arch", "plainnet5", "--data", "/d"])
    cfg, out, root = cli.zoo_settings(args)
    assert out == paths.zoo_root() / "tiny-imagenet-plainnet5-smoke"      # the notebook's folder
    assert root == Path("/d")
    assert (cfg.tasks, cfg.runs, cfg.epochs, cfg.milestones, cfg.train_per_class, cfg.device) == \
        (tuple(range(4)), 5, 1, (), 50, "cpu")
    args = cli.parser().parse_args(["zoo", "--profile", "quick", "--arch", "mlp4", "--tasks", "2", "--runs", "3"])
    cfg, out, _ = cli.zoo_settings(args)
    assert (cfg.tasks, cfg.runs, cfg.epochs, cfg.milestones) == ((0, 1), 3, 10, (7,))
    assert out == tmp_path / "tiny-imagenet-mlp4-quick-t2r3"      # a trial never touches the notebook's zoo
    with pytest.raises(WsmError, match="--tasks 51 is too many"):
        cli.zoo_settings(cli.parser().parse_args(["zoo", "--arch", "mlp4", "--tasks", "51"]))


def test_cli_zoo_address_needs_the_ray_engine(capsys, monkeypatch):
    from wsm import cli

    monkeypatch.delenv("WSM_ENGINE", raising=False)
    assert cli.main(["zoo", "--arch", "mlp4", "--address", "10.0.0.1:6379"]) == 2
    assert "--address 10.0.0.1:6379 names a Ray cluster: add --engine ray" in capsys.readouterr().err
    args = cli.parser().parse_args(["zoo", "--arch", "mlp4", "--engine", "ray"])
    assert (args.engine, args.address) == ("ray", None)
