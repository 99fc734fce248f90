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
