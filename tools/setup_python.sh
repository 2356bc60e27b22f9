#!/usr/bin/env bash
# Create .venv-tools/ at the repo root for the golden-fixture generators in tools/.
#
# The venv sits on Debian's /usr/bin/python3 with --system-site-packages so it
# reuses Debian's python3-torch 1.13.1 (CPU) and python3-numpy; the Hugging Face
# packages pinned in tools/requirements.txt are pip-installed into the venv.
#
# Usage: tools/setup_python.sh            (idempotent; re-running only checks)
#        VENV=/some/dir tools/setup_python.sh
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${VENV:-$repo_root/.venv-tools}"
sys_py=/usr/bin/python3
req="$repo_root/tools/requirements.txt"

die() { echo "setup_python.sh: error: $*" >&2; exit 1; }

have_debian_torch() {
    [ -x "$sys_py" ] && "$sys_py" -c 'import torch, numpy, venv, ensurepip' >/dev/null 2>&1
}

if ! have_debian_torch; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup_python.sh: installing Debian python3-torch and python3-venv" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq python3-torch python3-venv >/dev/null
    else
        die "need Debian's python3-torch and python3-venv (run as root: apt-get install -y python3-torch python3-venv)"
    fi
    have_debian_torch || die "python3-torch installed but '$sys_py -c \"import torch\"' still fails"
fi

if [ ! -x "$venv/bin/python" ]; then
    echo "setup_python.sh: creating $venv" >&2
    "$sys_py" -m venv --system-site-packages "$venv"
fi

py="$venv/bin/python"
if ! "$py" - "$req" >/dev/null 2>&1 <<'PY'
import sys, re
from importlib.metadata import version
for line in open(sys.argv[1]):
    line = line.split('#')[0].strip()
    if not line:
        continue
    name, want = re.split(r'==', line)
    if version(name.strip()) != want.strip():
        raise SystemExit(1)
PY
then
    echo "setup_python.sh: pip-installing tools/requirements.txt into $venv" >&2
    "$py" -m pip install --disable-pip-version-check -q -r "$req"
fi

"$py" - <<'PY'
import sys, torch, numpy, transformers, tokenizers, safetensors
print("python", sys.version.split()[0], "| torch", torch.__version__, "| numpy", numpy.__version__,
      "| transformers", transformers.__version__, "| tokenizers", tokenizers.__version__,
      "| safetensors", safetensors.__version__)
PY
echo "$venv"
