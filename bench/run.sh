#!/usr/bin/env bash
# Benchmarks mdlc against ONNX Runtime and PyTorch on the same models; see
# README.md. Installs what it needs (Debian packages, one npm package) into
# bench/.work, which git ignores; arguments go to compare.py.
set -euo pipefail
cd "$(dirname "$0")/.."
work=bench/.work
mkdir -p "$work"

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
apt_install() {
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "$@"
}

# PyTorch from Debian (python3-torch: 1.13 on Debian 12).
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  apt_install python3-torch
fi
# torchvision for the models the torchvision cases take (python3-torchvision: 0.14).
if ! /usr/bin/python3 -c 'import torchvision' 2>/dev/null; then
  apt_install python3-torchvision
fi
# Debian's default libblas.so.3 is the reference BLAS (about 2 GFLOP/s), which
# PyTorch would use for its matrix products: the PyTorch runs load OpenBLAS
# from Debian's package, unpacked here rather than installed, so that the
# machine's BLAS stays as it was.
if [ ! -d "$work/openblas" ]; then
  (cd "$work" && apt-get download libopenblas0-openmp && dpkg -x libopenblas0-openmp_*.deb openblas && rm libopenblas0-openmp_*.deb) ||
    echo "bench: could not unpack OpenBLAS; PyTorch runs on the system BLAS" >&2
fi

# ONNX Runtime for Node.js: the CPU library ships inside the npm package.
if ! command -v node >/dev/null; then
  apt_install nodejs npm
fi
if [ ! -d "$work/node_modules/onnxruntime-node" ]; then
  npm install --prefix "$work" --ignore-scripts --no-audit --no-fund onnxruntime-node@1.30.0
fi

go build -o "$work/mdlc" ./cmd/mdlc
# `bench/run.sh train ...` compares training steps (train.py); anything else
# compares inference (compare.py).
if [ "${1:-}" = train ]; then
  shift
  exec /usr/bin/python3 bench/train.py "$@"
fi
exec /usr/bin/python3 bench/compare.py "$@"
