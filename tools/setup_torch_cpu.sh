#!/usr/bin/env bash
# Create .venv-torch/ at the repo root with current PyTorch 2.x and transformers from PyPI — the
# CPU rival of docs/performance.md, installed as a user installs it (`pip install torch
# transformers`; the default Linux wheel also pulls its CUDA libraries, about 5 GB, and runs on
# the CPU), and scikit-learn for tools/probe_features.py. Idempotent; prints the versions it got. VENV=DIR to put it elsewhere.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${VENV:-$repo_root/.venv-torch}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import torch, transformers, sklearn' >/dev/null 2>&1; then
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q torch transformers accelerate numpy scikit-learn
fi
"$venv/bin/python" - <<'PY'
import torch, transformers
print(f"torch {torch.__version__} (MKL {torch.backends.mkl.is_available()}, oneDNN "
      f"{torch.backends.mkldnn.is_available()}), transformers {transformers.__version__}")
PY
