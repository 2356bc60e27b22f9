#!/usr/bin/env python3
"""Seed corpora of the BPE / Unigram fuzz targets (fuzz/fuzz_tokenizer_json.cpp,
fuzz/fuzz_bpe_files.cpp; docs/fuzzing.md), trimmed from the parity fixtures so each seed is a
few KB:

  fuzz/corpus/tokenizer_json/*.bin   tokenizer.json NUL text
  fuzz/corpus/bpe_files/*.bin        options byte, vocab.json NUL merges.txt NUL text

The BPE seeds keep the fixture's first merges and the tokens they need (plus the byte tokens,
all 256 or only some, so that unknown bytes are dropped); the Unigram seeds keep the fixture's
best-scored pieces and every one-character piece, with a hand-built Precompiled charsmap of four
entries (the fixture's nmt_nfkc charsmap alone is 240 KB). The variants cover the settings the
loaders accept: RobertaProcessing / ByteLevel / no post-processor, merges as strings or pairs,
unk_token + fuse_unk, ignore_merges, added tokens with lstrip / rstrip / single_word /
normalized; Precompiled, Strip, Replace (String and Regex), WhitespaceSplit, the three
prepend schemes, split false, no unk_id.

Standard library only. Run: python3 tools/gen_fuzz_tokenizer_seeds.py
"""
from __future__ import annotations

import base64
import json
import os
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data")
CORPUS = os.path.join(ROOT, "fuzz", "corpus")

TEXTS = [
    "Hello world, it's a movie!\tThe <mask> was   good.",
    "  e\u0301t\u00e9 \ufb01ne\u3000\u4e2d\U0001F600 x\n\ny\tb",
    "<s>a</s><pad> 123  abc'll",
]


def dump(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def write(folder: str, name: str, data: bytes) -> None:
    os.makedirs(os.path.join(CORPUS, folder), exist_ok=True)
    with open(os.path.join(CORPUS, folder, name), "wb") as f:
        f.write(data)
    print(f"fuzz/corpus/{folder}/{name}: {len(data)} bytes")


# -- BPE -----------------------------------------------------------------------------------------

def bpe_trim(n_merges: int, all_bytes: bool):
    """(vocab dict with ids 0..N-1, merges list of (a, b)) from the fixture's first merges."""
    vocab = json.load(open(os.path.join(DATA, "bpe_tiny", "vocab.json"), encoding="utf-8"))
    merges = [tuple(l.split(" ")) for l in
              open(os.path.join(DATA, "bpe_tiny", "merges.txt"), encoding="utf-8").read().splitlines()
              if l and not l.startswith("#version")]
    merges = merges[:n_merges] if all_bytes else merges[:4 * n_merges]
    keep = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    singles = [t for t, i in sorted(vocab.items(), key=lambda kv: kv[1]) if len(t) == 1]
    if not all_bytes:  # only some letters, Ġ and Ċ: the other bytes are unknown
        allowed = set("abcdefghilmnorstuwy'.,!ĠĊ")
        singles = [t for t in singles if t in allowed]
        merges = [(a, b) for a, b in merges if set(a + b) <= allowed][:n_merges]
    keep += singles
    for a, b in merges:
        for t in (a, b, a + b):
            if t not in keep:
                keep.append(t)
    return {t: i for i, t in enumerate(keep)}, merges


def bpe_tokenizer_json(vocab, merges, *, pairs=False, roberta=True, **model_extra):
    j = json.load(open(os.path.join(DATA, "bpe_tiny", "tokenizer.json"), encoding="utf-8"))
    j["model"]["vocab"] = vocab
    j["model"]["merges"] = [list(m) for m in merges] if pairs else [" ".join(m) for m in merges]
    j["model"].update(model_extra)
    if not roberta:
        j["post_processor"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
                               "use_regex": True}
        j["pre_tokenizer"]["add_prefix_space"] = True
    return j


def gen_bpe() -> None:
    vocab, merges = bpe_trim(60, all_bytes=True)
    j = bpe_tokenizer_json(vocab, merges)
    write("tokenizer_json", "bpe_roberta.bin", dump(j) + b"\0" + TEXTS[0].encode())

    vocab, merges = bpe_trim(80, all_bytes=False)
    j = bpe_tokenizer_json(vocab, merges, pairs=True, roberta=False, unk_token="<unk>",
                           fuse_unk=True, ignore_merges=True)
    j["added_tokens"] += [
        {"id": len(vocab), "content": "movie", "single_word": True, "lstrip": False,
         "rstrip": True, "normalized": True, "special": False},
        {"id": len(vocab) + 1, "content": "[X]", "single_word": False, "lstrip": True,
         "rstrip": True, "normalized": False, "special": True},
    ]
    write("tokenizer_json", "bpe_gpt2_unk.bin", dump(j) + b"\0" + TEXTS[1].encode())

    # The legacy files: options byte, vocab.json NUL merges.txt NUL text.
    vocab, merges = bpe_trim(60, all_bytes=True)
    merges_txt = "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges)
    write("bpe_files", "roberta.bin",
          b"\0" + dump(vocab) + b"\0" + merges_txt.encode() + b"\0" + TEXTS[0].encode())
    vocab, merges = bpe_trim(80, all_bytes=False)
    merges_txt = "".join(f"{a} {b}\r\n" for a, b in merges) + "\r\n"
    write("bpe_files", "gpt2_prefix_crlf.bin",  # add_prefix_space, ByteLevel post-processor
          bytes([1 | 4]) + dump(vocab) + b"\0" + merges_txt.encode() + b"\0" + TEXTS[1].encode())
    write("bpe_files", "no_trim_no_cache.bin",  # trim_offsets off, no cache, no merges.txt lines
          bytes([2 | 8]) + dump(vocab) + b"\0#version: 0.2\n\0" + TEXTS[2].encode())
    write("bpe_files", "vocab_only.bin", b"\0" + dump({"<s>": 0, "</s>": 1, "a": 2, "<pad>": 3}))


# -- Unigram -------------------------------------------------------------------------------------

def darts_clone(entries: dict[bytes, int]) -> bytes:
    """A darts-clone double array (as SentencePiece stores its charsmap) mapping each key to a
    value: unit = offset << 10 | has_leaf << 8 | label, a leaf unit = 1 << 31 | value; a node's
    children sit at (its position XOR its offset) XOR their label, its leaf at label 0."""
    trie: dict = {}
    for key, value in entries.items():
        node = trie
        for c in key:
            node = node.setdefault(c, {})
        node[None] = value
    units: dict[int, int] = {}
    used_offsets: set[int] = set()

    def place(node: dict) -> int:  # returns the node's offset; fills its children's units
        labels = [0 if c is None else c for c in node]
        off = 1
        while off in used_offsets or any((off ^ l) in units or (off ^ l) == 0 for l in labels):
            off += 1
        used_offsets.add(off)
        for c in node:
            units[off ^ (0 if c is None else c)] = 0  # reserve
        for c, child in node.items():
            if c is None:
                units[off] = (1 << 31) | child
            else:
                child_off = place(child)
                rel = child_off ^ off ^ c  # offsets are relative: XORed with the unit's position
                assert rel < (1 << 21)
                units[off ^ c] = (rel << 10) | ((None in child) << 8) | c
        return off

    units[0] = 0
    units[0] = place(trie) << 10
    size = max(units) + 1
    return b"".join(struct.pack("<I", units.get(i, 0)) for i in range(size))


def tiny_charsmap() -> str:
    """Four nmt_nfkc-like entries: 'ﬁ' → 'fi', U+3000 → ' ', 'Ａ' → 'A', U+200B → '' (removed)."""
    repl = {"\ufb01": "fi", "\u3000": " ", "\uff21": "A", "\u200b": ""}
    blob, entries = b"", {}
    for k, v in repl.items():
        entries[k.encode()] = len(blob)
        blob += v.encode() + b"\0"
    trie = darts_clone(entries)
    return base64.b64encode(struct.pack("<I", len(trie)) + trie + blob).decode()


def unigram_base(n_pieces: int):
    j = json.load(open(os.path.join(DATA, "unigram_tiny", "tokenizer.json"), encoding="utf-8"))
    vocab = j["model"]["vocab"]
    specials = {t["content"] for t in j["added_tokens"]}
    head = [v for v in vocab[4:] if v[0] not in specials]
    best = sorted(head, key=lambda v: -v[1])[:n_pieces]
    singles = [v for v in head if len(v[0]) == 1 and v not in best]
    new_vocab = vocab[:4] + best + singles[:60] + [vocab[-1]]  # <s> <pad> </s> <unk> ... <mask>
    j["model"]["vocab"] = [[p, round(s, 3)] for p, s in new_vocab]
    mask = next(t for t in j["added_tokens"] if t["content"] == "<mask>")
    mask["id"] = len(new_vocab) - 1
    for name, tok in j["post_processor"]["special_tokens"].items():
        tok["ids"] = [next(i for i, v in enumerate(new_vocab) if v[0] == name)]
    return j


def gen_unigram() -> None:
    j = unigram_base(80)
    j["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "Precompiled", "precompiled_charsmap": tiny_charsmap()},
        {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]}
    write("tokenizer_json", "unigram_xlmr.bin", dump(j) + b"\0" + TEXTS[0].encode())

    j = unigram_base(40)
    j["model"]["unk_id"] = None  # an unknown character is an ember::Error
    j["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "Strip", "strip_left": True, "strip_right": True},
        {"type": "Replace", "pattern": {"String": "ab"}, "content": "b a"}]}
    j["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "WhitespaceSplit"},
        {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": True}]}
    j["decoder"]["prepend_scheme"] = "first"
    j["post_processor"] = None
    write("tokenizer_json", "unigram_ws_no_unk.bin", dump(j) + b"\0" + "hello  the movie\tab ab".encode())

    j = unigram_base(40)
    j["normalizer"] = {"type": "Replace", "pattern": {"Regex": "e+"}, "content": "E"}
    j["pre_tokenizer"] = {"type": "Metaspace", "replacement": "_", "prepend_scheme": "never",
                          "split": False}
    j["decoder"] = {"type": "Metaspace", "replacement": "_", "prepend_scheme": "never",
                    "split": False}
    j["added_tokens"].append({"id": len(j["model"]["vocab"]), "content": "the", "single_word": True, "lstrip": True,
                              "rstrip": True, "normalized": True, "special": False})
    write("tokenizer_json", "unigram_never_nosplit.bin", dump(j) + b"\0" + TEXTS[2].encode())


if __name__ == "__main__":
    gen_bpe()
    gen_unigram()
