"""wsm.analyses.compare (bring your own networks) and the command line (python -m wsm).

No dataset is needed: networks are tiny and freshly initialised; the zoo command is only run up to
the point where it looks for the dataset."""

import copy
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import wsm as wsm_module
from wsm import cli
from wsm.core import paths, profiles
from wsm.maths import chain, htt
from wsm.zoos import nets
from wsm.analyses import compare as compare_module
from wsm.analyses.compare import compare, factor_similarity, load_weights
from wsm.core.errors import WsmError

from conftest import own_networks

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


# The bounds of compare()'s figures (float64 throughout, wsm/analyses/compare.py): a cosine of two phi that are
# equal up to the rounding of sums in another order is 1 within ~1e-15, so < 1e-9 leaves 1e6x; the
# kernel path's relative distance is the square root of a float64 cancellation, resolution ~ sqrt(u64)
# = 1e-8, so < 1e-6 leaves 100x. Independent networks score cosines < 0.99 and distances > 0.1.


@pytest.mark.parametrize("build, x", [(mlp, torch.randn(7, 20)), (cnn, torch.randn(3, 3, 8, 8))])
def test_permuted_copy_has_cosine_one_and_raw_cosine_below_one(build, x, rounding_cnn):
    if x.dim() != 4 and rounding_cnn.name == "channels-last":
        pytest.skip("an MLP's inputs have no memory format: the variant would be the native one")
    a = build(0)
    with torch.no_grad():                       # non-trivial BatchNorm statistics
        for m in a.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2)
    b = permuted(a)
    a.eval(), b.eval()
    if x.dim() == 4:
        x = x.contiguous(memory_format=rounding_cnn.memory_format)
        a, b = (n.to(memory_format=rounding_cnn.memory_format) for n in (a, b))
    # the permutation kept the function: float32 outputs (|y| < 2) of sums of <= 32 x 9 terms, ~
    # sqrt(288) x eps32 x |terms| x layers = 1e-5 at worst; measured 7e-8 (natively and perturbed)
    assert torch.allclose(a(x), b(x), atol=1e-5)
    table = compare(a, b)
    n_layers = len(chain.layer_weights(a))
    assert table.chain.tolist() == list(range(1, n_layers + 1))
    assert (table.cosine - 1).abs().max() < 1e-9           # the bounds above
    assert table.relative_distance.max() < 1e-6
    assert (table.raw_cosine < 0.99).all()                 # every layer has permuted rows or columns
    # state_dicts give the same table as modules
    same = compare(a.state_dict(), b.state_dict())
    assert same[["chain", "layer", "phi_shape"]].equals(table[["chain", "layer", "phi_shape"]])
    assert (same.cosine - table.cosine).abs().max() < 1e-12     # the same float64 computation: equal in practice


@pytest.mark.parametrize("build", [mlp, cnn])
def test_independent_networks_differ(build):
    table = compare(build(0), build(1))
    assert (table.cosine[table.chain >= 2] < 0.95).all()
    assert (table.relative_distance[table.chain >= 2] > 0.1).all()


def test_table_columns_shapes_and_depths():
    table = compare(cnn(0), cnn(1), depths=[3, 1])
    assert list(table.columns) == ["chain", "layer", "phi_shape", "cosine", "cosine_init", "cosine_init_low",
                                   "cosine_init_high", "cosine_rotated",
                                   "relative_distance", "relative_distance_init", "relative_distance_rotated",
                                   "raw_cosine", "raw_cosine_init", "raw_cosine_rotated"]
    assert (table.cosine_init_low <= table.cosine_init).all() and (table.cosine_init <= table.cosine_init_high).all()
    assert (table.cosine_init_low < table.cosine_init_high).all()          # 3 different pairs: a spread
    assert not {"cosine_init", "cosine_init_low"} & set(compare(cnn(0), cnn(1), draws=0).columns)
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
    # float64 both ways (kernel identity against formed phi): cosines to ~1e-15 (rel 1e-10 leaves 1e5x;
    # abs 1e-12 for cosines near 0), the relative distance to ~sqrt(u64) = 1e-8 of its cancellation
    # (rel 1e-8, as its value is O(1)); measured: 3e-5, 3e-7, 1e-5, 2e-4 and 1e-7 of these bounds
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
    (nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6 + 1, 2)).state_dict(),
     r"layer 2 \(2.weight\).*takes 145 inputs but layer 1 \(0.weight\) has 4 outputs"),
    (nn.Sequential(nn.Linear(6, 4), nn.Linear(8, 2)).state_dict(), r"layer 2 \(1.weight\).*takes 8 inputs"),
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
    with pytest.raises(WsmError, match=r"model.pt holds a whole model saved with torch.save\(model, path\) "
                                       r"\(pickled: torch.nn.modules.linear.Linear\).*--trust"):
        load_weights(tmp_path / "model.pt")
    assert [tuple(w.shape) for w in load_weights(tmp_path / "model.pt", trust=True)] == [(2, 2)]


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
    proc = wsm("similarity", tmp_path / "a.pt", tmp_path / "b.pt", "--full")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["chain"])
    assert lines[header].split() == compare_module.COLUMNS
    rows = [line.split() for line in lines[header + 1:] if line.strip() and line.split()[0].isdigit()]
    assert [r[0] for r in rows] == ["1", "2", "3"]
    assert [r[2] for r in rows] == ["27x27", "243x243", "243x243"]
    assert all(r[3] == "1" for r in rows)                                    # cosine, 4 significant digits
    assert all(float(r[4]) < 0.9 for r in rows)                              # cosine_init: unrelated networks
    assert all(r[7] == "1" for r in rows)                                    # cosine_rotated
    words = " ".join(proc.stdout.split())                                    # the note is wrapped
    assert "any orthogonal change of hidden basis" in words
    assert "1 does not mean the two networks compute the same function" in words
    assert "identical up to a permutation" not in words


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
    assert not (tmp_path / "zoo").exists()                    # no zoo.json (nor folder) left by the failed build
    (tmp_path / "kept").mkdir()
    proc = wsm("zoo", "--profile", "smoke", "--arch", "mlp4", "--tasks", 1, "--runs", 1, "--json",
               "--data", tmp_path / "nodata", "--out", tmp_path / "kept")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr     # notes on stderr, then the error
    assert proc.stderr.strip().splitlines()[-1].startswith("error: Tiny ImageNet not found")
    assert proc.stdout == ""                                  # --json: stdout holds the result only
    assert (tmp_path / "kept").is_dir() and not any((tmp_path / "kept").iterdir())   # the user's folder stays


def test_cli_help_lists_the_commands():
    proc = wsm("--help")
    assert proc.returncode == 0
    assert all(command in proc.stdout for command in ("similarity", "htt", "zoo", "--version"))
    version = wsm("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"wsm {wsm_module.__version__}"


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
    smoke = profiles.parameters("smoke", "s4_1_tiny_imagenet")       # the profile's, not a copy of it
    assert (cfg.tasks, cfg.runs, cfg.epochs, cfg.milestones, cfg.train_per_class, cfg.device) == \
        (tuple(range(smoke["n_tasks"])), smoke["runs"], smoke["cnn_epochs"], (), smoke["train_per_class"], "cpu")
    args = cli.parser().parse_args(["zoo", "--profile", "quick", "--arch", "mlp4", "--tasks", "2", "--runs", "3"])
    cfg, out, _ = cli.zoo_settings(args)
    quick = profiles.parameters("quick", "s4_1_tiny_imagenet")
    assert (cfg.tasks, cfg.runs, cfg.epochs, cfg.milestones) == ((0, 1), 3, quick["mlp_epochs"],
                                                                 tuple(quick["mlp_milestones"]))
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


# ----------------------------------------------------------------------------------------------
# every network the project trains, usual checkpoints, references, machine-readable output


def run_cli(capsys, *args):
    """``wsm ARGS`` in this process: (exit status, stdout, stderr)."""
    status = cli.main([str(a) for a in args])
    out = capsys.readouterr()
    return status, out.out, out.err


def zoo_run_file(path, net, task=0, run=0):
    """A file as wsm zoo writes it (wsm.zoos.zoo._save_run): metadata, the state_dict and its digest."""
    from wsm.zoos import zoo

    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    torch.save(dict(task=task, run=run, seed=run, classes=[0, 1], train_acc=1.0, test_acc=0.5, final_loss=0.1,
                    seconds=1.0, state_dict=state, sha256=zoo._digest(state)), path)


@pytest.mark.parametrize("arch", nets.ARCHITECTURES)
def test_cli_similarity_reads_every_zoo_architecture_s_run_files(tmp_path, capsys, arch):
    torch.manual_seed(0)
    a, b = nets.build(arch, 5), nets.build(arch, 5)
    zoo_run_file(tmp_path / "a.pt", a)
    zoo_run_file(tmp_path / "b.pt", b, run=1)
    status, out, err = run_cli(capsys, "similarity", tmp_path / "a.pt", tmp_path / "b.pt", "--chains", 1, 2,
                               "--draws", 1, "--json")
    assert status == 0, err
    rows = json.loads(out)["rows"]
    names = [layer.name for layer in chain.chain_layers(a)]
    assert [r["layer"] for r in rows] == names[:2]               # the labels of the chain's layers
    assert all(abs(r["cosine_rotated"] - 1) < 1e-9 for r in rows)         # the bounds of compare()
    assert all(r["cosine"] < 0.999 for r in rows)                # two independent initialisations
    table = compare(a, a, depths=[1, 2], draws=0)                 # a module gives the same labels
    # a network against itself: <phi, phi> / ||phi||^2 of the same float64 numbers, 1 within a few u64
    assert table.layer.tolist() == names[:2] and (table.cosine - 1).abs().max() < 1e-12


def test_compare_labels_res5_and_gru2_layers_and_compares_all_their_chains():
    torch.manual_seed(0)
    for arch, n_chains in (("res5", 5), ("gru2", 2)):
        a = nets.build(arch, 3)
        table = compare(a, permuted_gru(a) if arch == "gru2" else a, draws=0)
        assert table.layer.tolist() == [layer.name for layer in chain.chain_layers(a)] and len(table) == n_chains
        assert (table.cosine - 1).abs().max() < 1e-9          # the bounds of compare()


def permuted_gru(net, seed=1):
    g = torch.Generator().manual_seed(seed)
    other = copy.deepcopy(net)
    for layer in (1, 2):
        chain.permute_gru_hidden(other, layer, torch.randperm(other.gru.hidden_size, generator=g))
    return other


def lenet(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84),
                         nn.ReLU(), nn.Linear(84, 10))


def test_cli_similarity_of_a_lenet_and_a_research_checkpoint(tmp_path, capsys):
    """A LeNet (conv stack, flatten, Linear) saved as a usual checkpoint (args as an
    argparse.Namespace, a numpy best_acc), against a copy with permuted hidden units."""
    import argparse

    import numpy as np

    a = lenet(0)
    b = copy.deepcopy(a)
    for layer, width in ((1, 6), (2, 16), (3, 120), (4, 84)):
        chain.permute_hidden(b, layer, torch.randperm(width, generator=torch.Generator().manual_seed(layer)))
    x = torch.randn(2, 3, 32, 32)
    # the same function: float32 outputs (|y| < 0.2) of sums of <= 400 terms, ~ sqrt(400) x eps32 x
    # |terms| x layers ~ 1e-6 at worst; measured 2e-8
    assert torch.allclose(a(x), b(x), atol=1e-5)
    for name, net in (("a.pth", a), ("b.pth", b)):
        torch.save({"state_dict": net.state_dict(), "args": argparse.Namespace(lr=0.01, epochs=30),
                    "best_acc": np.float64(0.71)}, tmp_path / name)
    status, out, err = run_cli(capsys, "similarity", tmp_path / "a.pth", tmp_path / "b.pth", "--csv", "--draws", 1)
    assert status == 0, err
    import pandas as pd

    table = pd.read_csv(io.StringIO(out))
    assert table.layer.tolist() == ["0.weight", "3.weight", "7.weight", "9.weight", "11.weight"]
    assert table.phi_shape.tolist() == ["75x75", "1875x1875"] + ["46875x46875"] * 3
    assert (table.cosine - 1).abs().max() < 1e-9 and table.relative_distance.max() < 1e-6   # compare()'s bounds
    assert (table.raw_cosine[:4] < 0.9).all()                     # the raw weights of permuted layers moved
    assert (table.cosine_init < 0.5).all()


def test_cli_similarity_whole_model_needs_trust(tmp_path):
    torch.save(mlp(0), tmp_path / "a.pt")
    torch.save(mlp(1), tmp_path / "b.pt")
    assert_one_line_error(wsm("similarity", tmp_path / "a.pt", tmp_path / "b.pt"),
                          "a.pt holds a whole model saved with torch.save(model, path) (pickled: torch.nn.modules.",
                          "Sequential", "--trust")
    proc = wsm("similarity", tmp_path / "a.pt", tmp_path / "b.pt", "--trust", "--json")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert [r["chain"] for r in json.loads(proc.stdout)["rows"]] == [1, 2, 3]


def test_a_torchscript_file_gives_one_line_and_no_torch_warning(tmp_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.script(mlp(0)), tmp_path / "a.pt")
    torch.save(mlp(1).state_dict(), tmp_path / "b.pt")
    assert_one_line_error(wsm("similarity", tmp_path / "a.pt", tmp_path / "b.pt"), "TorchScript archive", "--trust")


def test_references_place_the_cosine():
    """Two untrained networks score about their *_init reference (a bare cosine of 0.5 says nothing);
    a permuted copy scores 1, far above it; the rotation reference is 1 in phi and low in raw weights."""
    from wsm.zoos import nets

    torch.manual_seed(0)
    a, b = nets.build("plainnet5", 5), nets.build("plainnet5", 5)
    table = compare(a, b, depths=[1, 2, 3])
    assert table.cosine[0] > 0.3                                  # high although unrelated ...
    # ... and the reference says so (a property of unrelated networks, whose mean over 3 pairs the
    # reference is; rounding moves neither by more than 1e-15)
    assert ((table.cosine - table.cosine_init).abs() < 0.15).all()
    assert ((table.cosine_rotated - 1).abs() < 1e-9).all() and (table.relative_distance_rotated < 1e-6).all()
    assert (table.raw_cosine_rotated.abs() < 0.5).all()
    same = compare(a, permuted(a), depths=[1, 2, 3])
    assert ((same.cosine - 1).abs() < 1e-9).all() and (same.cosine_init < 0.8).all()        # compare()'s bounds
    again = compare(a, b, depths=[1, 2, 3])                         # fixed seeds: the same references
    assert again.equals(table)


# ----------------------------------------------------------------------------------------------
# wsm htt: the paper's test on a folder of the user's networks


def test_cli_htt_finds_the_tasks_with_chains_and_reports_every_cell(tmp_path, capsys):
    labels = own_networks(tmp_path / "nets", tasks=("cats", "cars", "birds", "ships", "frogs"))
    status, out, err = run_cli(capsys, "htt", tmp_path / "nets", labels, "--null-repeats", 20, "--epochs", 5,
                               "--json")
    assert status == 0, err
    result = json.loads(out)
    assert result["networks"] == 25 and result["tasks"] == ["birds", "cars", "cats", "frogs", "ships"]
    assert result["chain_layers"] == ["0.weight", "2.weight", "4.weight"]
    rows = {(r["kind"], r["depth"], r["protocol"], r["classifier"]): r for r in result["rows"]}
    assert set(rows) == {(k, d, p, c) for k in ("unnormalized", "normalized") for d in (1, 2, 3)
                         for p in ("classification", "retrieval") for c in ("linear", "nearest")}
    for key, r in rows.items():
        assert {"accuracy", "n", "ci_low", "ci_high", "null_mean", "null_low", "null_high", "p_null", "decision",
                "evidence", "untested", "split_mean", "split_min", "split_max"} <= set(r)
        assert r["ci_low"] <= r["accuracy"] <= r["ci_high"]
        assert len(r["split_accuracies"]) == htt.SPLITS and r["split_accuracies"][0] == r["accuracy"]
        assert r["split_min"] <= r["split_mean"] <= r["split_max"]
        assert (r["untested"] is None) == (r["evidence"] != "not tested")
    for how in ("linear", "nearest"):
        c1 = rows["normalized", 1, "classification", how]
        assert c1["accuracy"] == 1.0 and c1["n"] == 10 and c1["decision"] == "accept H0"
        assert c1["evidence"] == "underpowered"                     # 10 test networks cannot show error < 5%
        assert c1["p_null"] < 0.1
    assert rows["unnormalized", 2, "classification", "linear"]["accuracy"] < 1.0     # permuted raw weights
    # every network's first-split predictions, every split's test networks, the cosine matrices
    per = result["per_network"]
    assert [Path(n["file"]).name for n in per] == pd_read((tmp_path / "nets" / "labels.csv").read_text()).file.tolist()
    tested = [n for n in per if "C1 classification linear" in n["predictions"]]
    assert len(tested) == 10 and all(n["predictions"]["C1 classification linear"] == n["task"] for n in tested)
    assert {n["file"] for n in tested} == set(result["splits"][0]["classification_test"])
    assert len(result["splits"]) == htt.SPLITS and len({tuple(s["classification_test"]) for s in result["splits"]}) > 1
    c1 = np.array(result["similarity"]["C1"])
    assert c1.shape == (25, 25) and np.allclose(np.diag(c1), 1)
    a, b = per[0]["file"], per[1]["file"]
    assert c1[0, 1] == pytest.approx(compare_module.compare(a, b, depths=[1], draws=0).cosine[0], abs=1e-6)
    status, text, _ = run_cli(capsys, "htt", tmp_path / "nets", labels, "--null-repeats", 5, "--epochs", 2,
                              "--depths", 1, "--kinds", "normalized")
    assert status == 0
    header = next(line for line in text.splitlines() if line.split()[:1] == ["feature"])
    assert header.split() == ["feature", "classifier", "protocol", "accuracy", "n", "ci95", "5", "splits",
                              "shuffled", "labels", "paper's", "rule", "H0", "by", "the", "interval"]
    assert "25 networks of 5 tasks" in text and "Clopper-Pearson" in text
    status, csv_text, _ = run_cli(capsys, "htt", tmp_path / "nets", labels, "--null-repeats", 0, "--epochs", 2,
                                  "--depths", 1, "--csv", "--protocols", "classification", "--classifier", "linear")
    import pandas as pd

    table = pd.read_csv(io.StringIO(csv_text))
    assert len(table) == 2 and "null_mean" not in table and set(table.evidence) <= {*htt.EVIDENCE, "not tested"}


def test_cli_htt_leaves_out_retrieval_with_a_note_when_tasks_are_too_few(tmp_path, capsys):
    labels = own_networks(tmp_path / "nets", tasks=("x", "y"), runs=3)
    status, out, err = run_cli(capsys, "htt", tmp_path / "nets", labels, "--null-repeats", 0, "--epochs", 2,
                               "--depths", 1, "--csv")
    assert status == 0 and "note: retrieval left out: retrieval's classifier would train on 1 task" in err
    assert set(pd_read(out).protocol) == {"classification"}
    status, _, err = run_cli(capsys, "htt", tmp_path / "nets", labels, "--protocols", "retrieval")
    assert status == 2 and err.startswith("error: retrieval's classifier would train on 1 task")
    labels = own_networks(tmp_path / "four", tasks=("w", "x", "y", "z"), runs=3)   # 2 training tasks: degenerate
    status, out, err = run_cli(capsys, "htt", tmp_path / "four", labels, "--null-repeats", 0, "--epochs", 2,
                               "--depths", 1, "--csv")
    assert status == 0 and "would train on 2 tasks" in err and "retrieval needs at least 5 tasks (it has 4)" in err
    assert set(pd_read(out).protocol) == {"classification"}


def pd_read(text):
    import pandas as pd

    return pd.read_csv(io.StringIO(text))


def test_cli_htt_errors_are_one_line(tmp_path):
    labels = own_networks(tmp_path / "nets", tasks=("x", "y"), runs=2)
    torch.save(nn.Sequential(nn.Linear(20, 16), nn.Linear(16, 3)).state_dict(), tmp_path / "nets" / "x-1.pt")
    assert_one_line_error(wsm("htt", tmp_path / "nets", labels), "x-1.pt has chain layers of shapes",
                          "one architecture")
    (tmp_path / "bad.csv").write_text("network,label\nx-0.pt,x\n")
    assert_one_line_error(wsm("htt", tmp_path / "nets", tmp_path / "bad.csv"), "has no column file or task")
    assert_one_line_error(wsm("htt", tmp_path / "nowhere"), "nowhere does not exist")


def test_cli_zoo_prints_its_result_as_json_or_csv(tmp_path, capsys, monkeypatch):
    """The zoo command's result on stdout alone (training replaced by a stand-in zoo of two runs)."""
    from wsm.zoos import zoo

    def fake_build(out, cfg, root, download=False, **options):      # progress, only_tasks: as build_zoo
        print("zoo progress line")                             # what progress prints outside a terminal
        runs = [zoo.Run(task=0, run=r, seed=r, classes=[0, 1], train_acc=0.9, test_acc=0.5 + r / 10, final_loss=0.1,
                        seconds=1.0, state_dict=mlp(r).state_dict()) for r in range(2)]
        return zoo.Zoo(out, cfg, runs)

    monkeypatch.setattr(zoo, "build_zoo", fake_build)
    args = ["zoo", "--profile", "smoke", "--arch", "mlp4", "--tasks", 1, "--runs", 2, "--out", tmp_path / "z"]
    status, out, err = run_cli(capsys, *args, "--json")
    assert status == 0 and "zoo progress line" in err and "zoo folder:" in err
    result = json.loads(out)
    assert (result["command"], result["networks"], result["diverged"]) == ("zoo", 2, 0)
    assert result["test_acc"] == pytest.approx(0.55) and result["config"]["arch"] == "mlp4"   # (0.5 + 0.6) / 2
    assert [(r["task"], r["run"]) for r in result["rows"]] == [(0, 0), (0, 1)]
    status, out, _ = run_cli(capsys, *args, "--csv")
    assert status == 0 and pd_read(out)[["run", "test_acc"]].values.tolist() == [[0, 0.5], [1, 0.6]]
    status, out, _ = run_cli(capsys, *args)
    assert status == 0 and "zoo ready in" in out and "2 networks" in out
