#!/usr/bin/env bash
# Add the serving tools' packages (tools/serve/, scripts/bench_serve.sh) to .venv-torch/: first
# tools/setup_torch_cpu.sh (PyTorch 2.x + transformers from PyPI), then, unpinned, as a user
# installs them: fastapi, uvicorn, onnx, onnxruntime, sentence-transformers, prometheus_client.
# Idempotent; prints the versions it got. VENV=DIR to put the venv elsewhere.
#
# Versions used when the tools were written (Python 3.11.7): torch 2.15.0, transformers 5.25.0,
# tokenizers 0.23.3, numpy 2.4.6, fastapi 0.165.0 (starlette 1.10.0, pydantic 2.14.4),
# uvicorn 0.55.0, onnx 1.23.2, onnxruntime 1.32.0, sentence-transformers 6.3.0,
# prometheus_client 0.26.0.
# wrk (the load generator) comes from Debian: apt-get install wrk (4.1.0, LuaJIT).
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export VENV="${VENV:-$repo_root/.venv-torch}"
"$repo_root/tools/setup_torch_cpu.sh"
py="$VENV/bin/python"
if ! "$py" -c 'import fastapi, uvicorn, onnx, onnxruntime, sentence_transformers, prometheus_client' >/dev/null 2>&1; then
  "$py" -m pip install -q fastapi uvicorn onnx onnxruntime sentence-transformers prometheus_client
fi
"$py" - <<'PY'
from importlib.metadata import version
names = ["fastapi", "uvicorn", "onnx", "onnxruntime", "sentence-transformers", "prometheus_client"]
print(", ".join(f"{n} {version(n)}" for n in names))
PY
command -v wrk >/dev/null || echo "setup_serve_python.sh: note: wrk is not installed (apt-get install wrk); scripts/bench_serve.sh needs it" >&2
