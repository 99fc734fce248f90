#!/usr/bin/env bash
# Fill a data root on a machine with internet access (the workflows in .github/workflows/):
#   Tiny ImageNet: the official archive, fetched by wsm itself from its official address (WSM_DOWNLOAD=1);
#   NameData: the 18 <Language>.txt files of the PyTorch char-RNN tutorial's data.zip (data/names/).
# What is already there is kept. CIFAR-100 is left to `make reproduce DOWNLOAD=1` (torchvision).
# Usage: .github/fetch-data.sh DATA_DIR [PYTHON]
set -euo pipefail
data="$1"
python="${2:-.venv/bin/python}"
mkdir -p "$data"
if [ ! -f "$data/tiny-imagenet-200.zip" ] && [ ! -d "$data/tiny-imagenet-200" ]; then
  WSM_DOWNLOAD=1 WSM_DATA="$data" "$python" -c "from wsm import data; data.load_task('tiny-imagenet', 0)"
fi
if [ ! -f "$data/names/English.txt" ]; then
  tmp="$(mktemp -d)"
  curl -fsSL --retry 3 -o "$tmp/data.zip" https://download.pytorch.org/tutorial/data.zip
  mkdir -p "$data/names"
  unzip -q -o -j "$tmp/data.zip" 'data/names/*.txt' -d "$data/names"
  rm -rf "$tmp"
fi
ls -l "$data" "$data/names"
