"""The numeric equivalence tests (marker ``equivalence``, tests/conftest.py) under other CPU kernels.

The fixtures ``rounding`` / ``rounding_cnn`` perturb the rounding within this process (threads, oneDNN,
denormals, memory format). Which SIMD kernels MKL, oneDNN and ATen run is chosen when torch loads, so
the other instruction sets that machines of our kind have (AVX2 where this one has AVX-512, as the
AMD EPYC machines; SSE4.2 anywhere) need a process of their own: each test here reruns every
equivalence test's native variant in a subprocess whose kernels are capped at that instruction set.
Marked ``rounding``: ``pytest -m rounding`` runs them, a plain ``pytest`` does not.
"""

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent

# ISA -> the environment that caps ATen's, MKL's and oneDNN's kernels at it (read when torch loads)
ISAS = {
    "AVX2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "SSE4.2": {"ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "ONEDNN_MAX_CPU_ISA": "SSE41"},
}
ORDER = ["DEFAULT", "SSE4.2", "AVX2", "AVX512"]        # torch.backends.cpu.get_cpu_capability()'s names, ascending


def _run(env_extra: dict) -> subprocess.CompletedProcess:
    env = {**os.environ, **env_extra}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-m", "equivalence and not rounding", str(REPO / "tests")],
                          cwd=REPO, env=env, capture_output=True, text=True)


@pytest.mark.rounding
@pytest.mark.parametrize("isa", list(ISAS))
def test_equivalence_tests_pass_under_another_instruction_set(isa):
    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("instruction-set caps are for x86-64 CPUs")
    native = torch.backends.cpu.get_cpu_capability()
    if native in ORDER and ORDER.index(native) <= ORDER.index(isa):
        pytest.skip(f"this CPU's kernels are {native} already: capping them at {isa} changes nothing")
    proc = _run(ISAS[isa])
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    capped = subprocess.run([sys.executable, "-c", "import torch; print(torch.backends.cpu.get_cpu_capability())"],
                            env={**os.environ, **ISAS[isa]}, capture_output=True, text=True).stdout.strip()
    assert ORDER.index(capped) < ORDER.index(native)      # the cap took effect
