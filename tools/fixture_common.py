"""Shared helpers for ember's golden-fixture generators (tools/gen_*.py).

Every fixture records how it was made: the exact command and the library
versions, in the safetensors ``__metadata__`` (string -> string) and in the
companion JSON where there is one. No timestamps, so re-running a generator with
the same versions reproduces the same bytes.
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "tests" / "data"
SHARED_DATA = Path(os.environ.get("EMBER_SHARED_DATA", "/work/shared/data"))


def versions() -> dict:
    import numpy
    import safetensors
    import tokenizers
    import torch
    import transformers

    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "safetensors": safetensors.__version__,
        "numpy": numpy.__version__,
    }


def command() -> str:
    """The command line that ran this generator, relative to the repo root."""
    exe = os.path.relpath(sys.executable, REPO_ROOT) if sys.executable.startswith(str(REPO_ROOT)) else "python3"
    script = os.path.relpath(os.path.abspath(sys.argv[0]), REPO_ROOT)
    return shlex.join([exe, script] + sys.argv[1:])


def provenance(**extra) -> dict:
    meta = {"generator_command": command()}
    meta.update({f"version.{k}": v for k, v in versions().items()})
    for k, v in extra.items():
        meta[k] = v if isinstance(v, str) else json.dumps(v, sort_keys=True)
    return meta


def _canonical_header(blob: bytes) -> bytes:
    """Rewrite a safetensors blob's JSON header in a fixed order (metadata first,
    its keys sorted; tensors by data offset) so identical inputs give identical
    bytes. The safetensors writer keeps __metadata__ in a hash map whose order
    changes from run to run; the tensor data are left untouched."""
    import struct

    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", None)
    ordered = {}
    if meta is not None:
        ordered["__metadata__"] = dict(sorted(meta.items()))
    for k in sorted(header, key=lambda k: (header[k]["data_offsets"][0], k)):
        ordered[k] = header[k]
    text = json.dumps(ordered, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + blob[8 + n:]


def save_tensors(path: Path, tensors: dict, **extra_meta) -> None:
    """Write tensors (contiguous, cloned) as safetensors with provenance metadata."""
    import torch
    from safetensors.torch import load_file, save

    path.parent.mkdir(parents=True, exist_ok=True)
    clean = {k: v.detach().contiguous().clone() for k, v in tensors.items()}
    meta = provenance(**extra_meta)
    blob = _canonical_header(save(clean, metadata=meta))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(blob)
    back = load_file(str(tmp))  # round-trip check of the rewritten header
    assert back.keys() == clean.keys() and all(torch.equal(back[k], clean[k]) for k in clean), path
    os.replace(tmp, path)
    print(f"wrote {os.path.relpath(path, REPO_ROOT)}: {len(clean)} tensors, {path.stat().st_size} bytes")


def save_json(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    obj = dict(obj)
    obj.setdefault("generator_command", command())
    obj.setdefault("versions", versions())
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {os.path.relpath(path, REPO_ROOT)}: {path.stat().st_size} bytes")


def model_dir(explicit: str | None = None) -> Path:
    """Directory of the all-MiniLM-L6-v2 checkpoint: --model-dir, $EMBER_MINILM_DIR,
    or whatever scripts/fetch_model.sh prints (it is idempotent)."""
    d = explicit or os.environ.get("EMBER_MINILM_DIR")
    if not d:
        out = subprocess.run(["bash", str(REPO_ROOT / "scripts" / "fetch_model.sh")],
                             check=True, stdout=subprocess.PIPE, text=True).stdout
        d = out.strip().splitlines()[-1]
    p = Path(d)
    for f in ("config.json", "vocab.txt", "model.safetensors"):
        if not (p / f).is_file():
            raise SystemExit(f"{p} lacks {f}; run scripts/fetch_model.sh")
    return p


def read_sst2(split: str = "dev") -> list[tuple[int, str, int]]:
    """Rows of /work/shared/data/sst2/<split>.tsv as (row index from 0 after the
    header, sentence exactly as in the file, label)."""
    rows = []
    with open(SHARED_DATA / "sst2" / f"{split}.tsv", encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        assert header == ["sentence", "label"], header
        for i, line in enumerate(f):
            sent, label = line.rstrip("\n").split("\t")
            rows.append((i, sent, int(label)))
    return rows


def setup_torch() -> None:
    import torch

    torch.set_num_threads(1)  # reproducible reduction order
    torch.use_deterministic_algorithms(True)
