#!/usr/bin/env python3
"""Compares ember's WordPiece vocabulary trainer with Hugging Face's.

Trains Hugging Face tokenizers' `BertWordPieceTokenizer` (the WordPieceTrainer, i.e. its BPE
trainer with the "##" prefix) and ember's `WordPieceTrainer` (include/ember/data/
wordpiece_trainer.hpp, through tools/train_wordpiece_vocab.cpp, compiled here when missing) with
the same options on the same text, then reports:

  1. the vocabularies: identical? same order? overlap, the part that agrees id by id (special
     tokens, alphabet, the "##" characters, merges);
  2. HF against itself: a second HF run (its word-count hash map is seeded at random, so the
     order of equal-count merges may change from run to run);
  3. tokenization of held-out sentences: HF's vocabulary vs ember's (both read by
     BertTokenizerFast), sentence by sentence;
  4. ember's vocab.txt read by transformers' BertTokenizerFast.from_pretrained(dir) vs ember's
     own WordPieceTokenizer on that vocabulary (ids of [CLS] sentence [SEP]).

Usage (the numbers in docs/tokenizer.md, "Training a WordPiece vocabulary"):

    .venv-torch/bin/python tools/compare_wordpiece_trainer.py \
        --train ../shared/data/sst2/train.tsv --held-out ../shared/data/sst2/validation.tsv \
        --vocab-size 8000

A .tsv file is read as a table with a header whose `sentence` column (else the first) is the
text; any other file as plain text, one text per line. Exits 1 when check 4 disagrees.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_texts(path):
    if path.endswith(".tsv"):
        with open(path, encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
        col = rows[0].index("sentence") if "sentence" in rows[0] else 0
        return [r[col] for r in rows[1:] if len(r) > col]
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def ember_binary(path):
    src = os.path.join(ROOT, "tools", "train_wordpiece_vocab.cpp")
    hdr = os.path.join(ROOT, "include", "ember", "data", "wordpiece_trainer.hpp")
    if os.path.exists(path) and os.path.getmtime(path) >= max(os.path.getmtime(src),
                                                               os.path.getmtime(hdr)):
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cmd = [os.environ.get("CXX", "c++"), "-O2", "-std=c++17", "-I" + os.path.join(ROOT, "include"),
           src, "-lutf8proc", "-fopenmp", "-o", path]
    print("compiling:", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True)
    return path


def train_hf(text_file, out_dir, args):
    from tokenizers import BertWordPieceTokenizer

    tok = BertWordPieceTokenizer(lowercase=not args.cased)
    t0 = time.perf_counter()
    tok.train([text_file], vocab_size=args.vocab_size, min_frequency=args.min_frequency,
              limit_alphabet=args.limit_alphabet, show_progress=False)
    seconds = time.perf_counter() - t0
    os.makedirs(out_dir, exist_ok=True)
    tok.save_model(out_dir)
    with open(os.path.join(out_dir, "vocab.txt"), encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f], seconds


def compare_vocabs(a, b):
    """What two vocabularies (lists, id = index) share."""
    same_id = sum(1 for x, y in zip(a, b) if x == y)
    first_diff = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None)
    common = len(set(a) & set(b))
    return {"sizes": [len(a), len(b)], "identical": a == b, "same_set": set(a) == set(b),
            "common_tokens": common, "overlap": round(common / max(len(a), len(b)), 5),
            "same_token_same_id": same_id, "first_differing_id": first_diff}


def parts(vocab, n_special):
    """Splits a trained vocabulary into specials, alphabet, ## characters, merges."""
    i = n_special
    while i < len(vocab) and len(vocab[i]) == 1:
        i += 1
    j = i
    while j < len(vocab) and vocab[j].startswith("##") and len(vocab[j]) == 3:
        j += 1
    return vocab[:n_special], vocab[n_special:i], vocab[i:j], vocab[j:]


def fast_tokenizer(vocab_dir):
    from transformers import BertTokenizerFast

    return BertTokenizerFast.from_pretrained(vocab_dir)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--train", required=True, help="training text (.tsv or plain text)")
    ap.add_argument("--held-out", required=True, help="held-out text (.tsv or plain text)")
    ap.add_argument("--vocab-size", type=int, default=8000)
    ap.add_argument("--min-frequency", type=int, default=2)
    ap.add_argument("--limit-alphabet", type=int, default=1000)
    ap.add_argument("--cased", action="store_true")
    ap.add_argument("--hf-runs", type=int, default=3, help="HF trainings (run-to-run variation)")
    ap.add_argument("--ember-bin", default=os.path.join(ROOT, "build", "vocab", "train_vocab"))
    ap.add_argument("--work-dir", default=None, help="where vocabularies go (default: a temp dir)")
    args = ap.parse_args()

    import tokenizers
    import transformers

    work = args.work_dir or tempfile.mkdtemp(prefix="ember_wp_compare_")
    os.makedirs(work, exist_ok=True)
    train_txt = os.path.join(work, "train.txt")
    held_txt = os.path.join(work, "held_out.txt")
    with open(train_txt, "w", encoding="utf-8") as f:
        f.writelines(t + "\n" for t in read_texts(args.train))
    held = [t for t in read_texts(args.held_out) if t.strip()]
    with open(held_txt, "w", encoding="utf-8") as f:
        f.writelines(t + "\n" for t in held)

    report = {"tokenizers": tokenizers.__version__, "transformers": transformers.__version__,
              "train": args.train, "held_out": args.held_out, "held_out_sentences": len(held),
              "vocab_size": args.vocab_size, "min_frequency": args.min_frequency,
              "limit_alphabet": args.limit_alphabet, "lowercase": not args.cased}

    # ember
    exe = ember_binary(args.ember_bin)
    ember_dir = os.path.join(work, "ember")
    os.makedirs(ember_dir, exist_ok=True)
    cmd = [exe, "--vocab-size", str(args.vocab_size), "--min-frequency", str(args.min_frequency),
           "--limit-alphabet", str(args.limit_alphabet), "--out",
           os.path.join(ember_dir, "vocab.txt"), "--tokenize", held_txt, "--ids-out",
           os.path.join(work, "ember_ids.txt"), train_txt]
    if args.cased:
        cmd.append("--cased")
    t0 = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    ember_wall = time.perf_counter() - t0
    report["ember"] = json.loads(out)
    report["ember"]["process_seconds"] = round(ember_wall, 3)
    with open(os.path.join(ember_dir, "vocab.txt"), encoding="utf-8") as f:
        ember_vocab = [line.rstrip("\n") for line in f]

    # Hugging Face, several runs
    hf_vocabs, hf_seconds = [], []
    for r in range(args.hf_runs):
        v, s = train_hf(train_txt, os.path.join(work, f"hf{r}"), args)
        hf_vocabs.append(v)
        hf_seconds.append(round(s, 3))
    hf_vocab = hf_vocabs[0]
    report["hf_train_seconds"] = hf_seconds

    n_special = 5
    e_parts, h_parts = parts(ember_vocab, n_special), parts(hf_vocab, n_special)
    report["ember_vs_hf"] = compare_vocabs(ember_vocab, hf_vocab)
    report["ember_vs_hf"]["parts"] = {
        name: {"ember": len(e), "hf": len(h), "same_order": e == h, "same_set": set(e) == set(h),
               "common": len(set(e) & set(h))}
        for name, e, h in zip(["special", "alphabet", "continuation", "merges"], e_parts, h_parts)}
    report["ember_vs_hf"]["only_ember_sample"] = sorted(set(ember_vocab) - set(hf_vocab))[:15]
    report["ember_vs_hf"]["only_hf_sample"] = sorted(set(hf_vocab) - set(ember_vocab))[:15]
    report["hf_vs_hf"] = [compare_vocabs(hf_vocab, v) for v in hf_vocabs[1:]]
    for c in report["hf_vs_hf"]:
        c.pop("sizes")

    # 3. held-out tokenization with each vocabulary (both through BertTokenizerFast)
    tok_hf = fast_tokenizer(os.path.join(work, "hf0"))
    tok_ember_hf = fast_tokenizer(ember_dir)
    same = 0
    n_hf = n_em = unk_hf = unk_em = 0
    for t in held:
        a = tok_hf.tokenize(t)
        b = tok_ember_hf.tokenize(t)
        same += a == b
        n_hf += len(a)
        n_em += len(b)
        unk_hf += a.count("[UNK]")
        unk_em += b.count("[UNK]")
    same_hf = None
    if len(hf_vocabs) > 1:  # the same measure between two HF runs, for scale
        tok_hf1 = fast_tokenizer(os.path.join(work, "hf1"))
        same_hf = sum(tok_hf.tokenize(t) == tok_hf1.tokenize(t) for t in held)
    report["held_out_tokenization"] = {
        "hf_run0_vs_run1_same_tokens": same_hf,
        "same_tokens": same, "sentences": len(held), "agreement": round(same / len(held), 5),
        "tokens_per_sentence": {"hf_vocab": round(n_hf / len(held), 3),
                                "ember_vocab": round(n_em / len(held), 3)},
        "unk": {"hf_vocab": unk_hf, "ember_vocab": unk_em}}

    # 4. ember's vocab.txt in transformers vs ember's tokenizer on it
    with open(os.path.join(work, "ember_ids.txt"), encoding="utf-8") as f:
        ember_ids = [[int(x) for x in line.split()] for line in f]
    hf_ids = [tok_ember_hf(t)["input_ids"] for t in held]
    agree = sum(a == b for a, b in zip(ember_ids, hf_ids))
    report["ember_vocab_in_transformers"] = {
        "class": type(tok_ember_hf).__name__, "vocab_size": tok_ember_hf.vocab_size,
        "pad_id": tok_ember_hf.pad_token_id, "unk_id": tok_ember_hf.unk_token_id,
        "cls_id": tok_ember_hf.cls_token_id, "sep_id": tok_ember_hf.sep_token_id,
        "mask_id": tok_ember_hf.mask_token_id, "identical_ids": agree,
        "sentences": len(held), "lines_compared": len(ember_ids)}

    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0 if agree == len(held) == len(ember_ids) else 1


if __name__ == "__main__":
    sys.exit(main())
