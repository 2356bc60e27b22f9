#!/usr/bin/env python3
"""Check a running server's POST /embed against sentence-transformers on the same model.

Reference: SentenceTransformer(--model).encode(texts) — mean pooling of the last hidden state
over the attention mask, then L2 normalization — and the same pipeline without its Normalize
module for "normalize": false (all-MiniLM-L6-v2's modules.json ends in Normalize, so
encode(normalize_embeddings=False) would still normalize).

The server gets the first --n SST-2 dev sentences (default 100), shuffled so lengths mix, in
batches of --batch-sizes, cycled (default 1,7,32,60), once with "normalize": true and once with
false, plus the first 5 as a single string ({"inputs": "text"}, answer: a list of one vector) and
one request that leaves "normalize" out (default true). Every component must be within --tol
(default 1e-5). Starts no server. Exit 0 if all pass, 1 otherwise.

  .venv-torch/bin/python tools/serve/check_embed.py --url http://127.0.0.1:8080 --model DIR
"""
import argparse
import json
import os
import random
import sys
import urllib.error

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import add_check_arguments, parse_batch_sizes, DEFAULT_EMBEDDER, DEFAULT_SST2_DEV, check_model_dir, die, read_sentences
from http_client import HttpError, describe_connection_error, post_json, require_server

TOOL = "check_embed"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_EMBEDDER,
                    help="the sentence-transformers model the server runs (default %(default)s)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads for the reference")
    add_check_arguments(ap, "max |component difference|")
    args = ap.parse_args()
    check_model_dir(TOOL, args.model, ("config.json", "vocab.txt"))
    sizes = parse_batch_sizes(TOOL, args.batch_sizes)

    require_server(TOOL, args.url)
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(args.threads)
    texts = read_sentences(args.data, args.n)
    st = SentenceTransformer(args.model, device="cpu")
    kept = [m for m in st if type(m).__name__ != "Normalize"]
    st_raw = st if len(kept) == len(st) else SentenceTransformer(modules=kept, device="cpu")
    ref = {True: st.encode(texts, normalize_embeddings=True, convert_to_numpy=True).astype(np.float64),
           False: st_raw.encode(texts, normalize_embeddings=False, convert_to_numpy=True).astype(np.float64)}
    dim = ref[True].shape[1]

    url = args.url.rstrip("/") + "/embed"
    order = list(range(len(texts)))
    random.Random(args.seed).shuffle(order)
    failures, worst, requests, vectors = [], {True: 0.0, False: 0.0}, 0, 0

    def compare(where, got, idx, normalize):
        nonlocal vectors
        if not (isinstance(got, list) and len(got) == len(idx)
                and all(isinstance(v, list) and len(v) == dim for v in got)):
            failures.append(f"{where}: expected {len(idx)} vectors of {dim} numbers, got {json.dumps(got)[:200]}")
            return
        diff = float(np.abs(np.asarray(got, np.float64) - ref[normalize][idx]).max())
        worst[normalize] = max(worst[normalize], diff)
        vectors += len(idx)
        if diff > args.tol:
            failures.append(f"{where}: max |diff| {diff:.3g} > {args.tol}")

    try:
        for normalize in (True, False):
            i = j = 0
            while i < len(order):
                b = order[i:i + sizes[j % len(sizes)]]
                i, j = i + len(b), j + 1
                got = post_json(url, {"inputs": [texts[k] for k in b], "normalize": normalize}, args.timeout)
                requests += 1
                compare(f"batch of {len(b)}, normalize={normalize}", got, b, normalize)
            for k in range(min(5, len(texts))):
                got = post_json(url, {"inputs": texts[k], "normalize": normalize}, args.timeout)
                requests += 1
                compare(f"text {k} as a single string, normalize={normalize}", got, [k], normalize)
        got = post_json(url, {"inputs": texts[:3]}, args.timeout)
        requests += 1
        compare("normalize left out (default true)", got, [0, 1, 2], True)
    except HttpError as e:
        failures.append(str(e))
    except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
        die(TOOL, describe_connection_error(url, e))

    for f in failures[:20]:
        print("FAIL", f, file=sys.stderr)
    print(json.dumps({"url": url, "texts": len(texts), "dim": dim, "requests": requests, "vectors_compared": vectors,
                      "max_abs_diff_normalized": worst[True], "max_abs_diff_raw": worst[False],
                      "tol": args.tol, "failures": len(failures), "ok": not failures}))
    sys.exit(0 if not failures else 1)


if __name__ == "__main__":
    main()
