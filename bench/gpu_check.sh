#!/usr/bin/env bash
# The GPU measurements, as one script for a lent accelerator machine (its Python already has torch,
# torchvision, scipy, pandas, seaborn, tqdm; wsm runs from the checkout). Usage, from the repo root:
#   python -m bench.tiny_subset ../shared/data/tiny-imagenet-200.zip .gpudata --classes 16   # here, once
#   OUT=/some/folder bash bench/gpu_check.sh                                                # there
# 1. the batched-vs-loop equivalence test on CUDA; 2. matmul, training and chain-Gram benchmarks on
# CUDA (book/benchmarks/<gpu>.csv); 3. Fig. 2 at the paper's settings on the first 4 Tiny ImageNet
# tasks (bench.paper_slice). Each step has its own time limit, so one failure does not stop the rest.
set -o pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD" WSM_DATA="${WSM_DATA:-$PWD/.gpudata}" WSM_CACHE=/tmp/wsm-cache MPLBACKEND=Agg
OUT="${OUT:-/tmp/gpu-out}"
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__, torch.cuda.get_device_name(0))" | tee -a "$OUT/gpu.txt"
timeout "${T_EQUIV:-90}" python3 -m pytest -q -s -p no:cacheprovider tests/test_vectorized.py -k cuda 2>&1 | tee "$OUT/equiv.log"
timeout "${T_BENCH:-150}" python3 -m bench.run --device cuda --only "${BENCHES:-bench_matmul,bench_training,bench_chain}" --out "$OUT" 2>&1 | tee "$OUT/bench.log"
timeout "${T_SLICE:-300}" python3 -m bench.paper_slice --tasks "${TASKS:-4}" --archs "${ARCHS:-mlp4,plainnet5}" --zoos /tmp/wsm-zoos --out "$OUT" --null 20 2>&1 \
  | grep -v "it/s\]" | tee "$OUT/slice.log"
