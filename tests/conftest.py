import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """For tests that run thousands of tiny ops (batch-1 SGD, small matmuls): intra-op threads only
    add synchronisation, which is very slow when another process holds a core. Restored after."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def own_networks(folder, tasks=("cats", "cars", "birds", "ships"), runs=5, noise=0.05):
    """A folder of small networks "of your own" and its labels file (returned): per task, one random
    MLP 20-16-12-5; its runs are that network plus noise with every hidden layer's units randomly
    permuted: one solution per task, which only permutation-invariant features see. Saved as
    usual checkpoints (``{"model": state_dict, "epoch": ...}``)."""
    import copy

    from torch import nn

    from wsm import chain

    folder.mkdir(parents=True, exist_ok=True)
    g = gen(0)
    lines = ["file,task"]
    for i, task in enumerate(tasks):
        torch.manual_seed(100 + i)
        base = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 5))
        for r in range(runs):
            net = copy.deepcopy(base)
            with torch.no_grad():
                for p in net.parameters():
                    p.add_(noise * torch.randn(p.shape, generator=g))
            for layer, width in ((1, 16), (2, 12)):
                chain.permute_hidden(net, layer, torch.randperm(width, generator=g))
            torch.save({"model": net.state_dict(), "epoch": 10}, folder / f"{task}-{r}.pt")
            lines.append(f"{task}-{r}.pt,{task}")
    (folder / "labels.csv").write_text("\n".join(lines) + "\n")
    return folder / "labels.csv"
