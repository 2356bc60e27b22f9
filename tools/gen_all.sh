#!/usr/bin/env bash
# Regenerate every golden fixture under tests/data/ (see tools/README.md).
# Sets up .venv-tools/ and fetches the MiniLM checkpoint first (both idempotent); the
# transformers 5 generators at the end use .venv-torch/ (tools/setup_torch_cpu.sh, idempotent).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash tools/setup_python.sh >/dev/null
export EMBER_MINILM_DIR="$(bash scripts/fetch_model.sh | tail -n1)"
py=.venv-tools/bin/python
$py tools/gen_bert_fixtures.py
$py tools/gen_optim_fixtures.py
$py tools/gen_op_fixtures.py
$py tools/gen_minilm_fixture.py
bash tools/setup_torch_cpu.sh >/dev/null
.venv-torch/bin/python tools/gen_family_fixtures.py
.venv-torch/bin/python tools/gen_token_classification_fixture.py
