#!/usr/bin/env python3
"""Parity fixture for ember::data::encode_words (include/ember/data/token_classification.hpp):
Hugging Face's word alignment for token classification on real WNUT 2017 sentences (issue #20).

Writes tests/data/token_classification/wnut17_alignment.jsonl, one JSON object per line. Line 1
is {"meta": {...}} (command, versions, label list, counts); every other line is one case:
    {"tokenizer": "bert" | "roberta" | "xlmr",
     "file": "train" | "dev" | "test", "sentence": i (0-based, in read_conll's order),
     "max_length": L,
     "input_ids": [...], "word_ids": [... -1 for special tokens ...], "labels": [...]}
The words and tags are not stored (but for the "hand" cases): the test reads them from examples/data/wnut17/<file>.conll.

What is run (transformers' examples/pytorch/token-classification/run_ner.py,
tokenize_and_align_labels, label_all_tokens=False):
    enc = tokenizer(words, is_split_into_words=True, truncation=True, max_length=L)
    labels = label id on the first sub-token of each word, -100 on later sub-tokens and specials
Label ids index the sorted tag set of train.conll (run_ner's get_label_list).

Tokenizers:
    bert     BertTokenizerFast over tests/data/bert_tiny/vocab.txt (= all-MiniLM-L6-v2's vocab):
             300 sentences: 220 of the sentences with a character outside ASCII, a URL, an
             @mention or a #hashtag (those with a word the normalizer empties first, then a
             seeded shuffle), then plain ones;
             max_length 128, and 16 for every fifth case (truncation mid-sentence).
    roberta  AutoTokenizer(tests/data/roberta_tiny, add_prefix_space=True) — as run_ner loads
             RoBERTa — on 12 of those sentences.
    xlmr     AutoTokenizer(tests/data/xlmr_tiny) on 12 of those sentences.
    hand     3 made-up sentences (a control character, a zero-width space, special tokens and a
             word holding a space as words) with all three tokenizers; these cases store
             "words" and "tags", with "file" and "sentence" null.
Also writes tests/data/token_classification/tiny_{train,dev}.conll and tiny_sentences.txt
(write_tiny_conll), the made-up data of the token_classification example's CTest.

Run (from the repo root; transformers 5.x, no torch needed):
    .venv-torch/bin/python tools/gen_token_classification_fixture.py
"""
from __future__ import annotations

import json
import os
import random
import re
import shlex
import sys
import tempfile
import shutil
from pathlib import Path

import tokenizers
import transformers
from transformers import AutoTokenizer, BertTokenizerFast

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conll_reader import read_conll  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WNUT = ROOT / "examples" / "data" / "wnut17"
OUT = ROOT / "tests" / "data" / "token_classification" / "wnut17_alignment.jsonl"


VANISHING = {"\ufe0f", "\u200b", "\u200d"}  # removed by the normalizer: a word without a token
OTHERS = 12  # sentences for the roberta and xlmr tokenizers
# Hand-made sentences (words and tags stored in the case): a control character, a zero-width
# space and a special token as words; a word with a space in it (CoNLL's tab-separated tokens).
HAND = [
    (["Hi", "\u0007", "Paul", "\u200b", "!"], ["O", "O", "B-person", "O", "O"]),
    (["[SEP]", "in", "New York", "[CLS]x"], ["O", "O", "B-location", "O"]),
    (["\u00c9mile", "Zola", "\u2019s", "caf\u00e9s", "\U0001F600\U0001F600"],
     ["B-person", "I-person", "O", "O", "O"]),
]


def odd(words) -> bool:
    text = " ".join(words)
    return (any(ord(c) > 127 for c in text) or re.search(r"https?://|www\.", text) is not None
            or "@" in text or "#" in text)


def align(tok, words, tags, label2id, max_length):
    enc = tok(words, is_split_into_words=True, truncation=True, max_length=max_length)
    word_ids = enc.word_ids()
    labels, previous = [], None
    for w in word_ids:
        if w is None:
            labels.append(-100)
        elif w != previous:
            labels.append(label2id[tags[w]])
        else:
            labels.append(-100)
        previous = w
    return {"input_ids": enc["input_ids"], "word_ids": [-1 if w is None else w for w in word_ids],
            "labels": labels}


def write_tiny_conll():
    """tiny_train.conll (48 sentences) and tiny_dev.conll (16): made-up sentences with person and
    location entities, for the example's CTest (examples/CMakeLists.txt); seeded, so the same
    bytes each run."""
    rng = random.Random(7)
    people = [["Paul"], ["Maria", "Lopez"], ["John"], ["Anna", "Berg"], ["Ken"], ["Sara"]]
    places = [["Paris"], ["New", "York"], ["Berlin"], ["Lima"], ["Oslo"], ["San", "Jose"]]
    frames = [["{P}", "went", "to", "{L}", "today"], ["I", "met", "{P}", "in", "{L}"],
              ["{L}", "is", "where", "{P}", "lives"], ["we", "love", "{L}", "!"],
              ["{P}", "says", "hi"]]
    for name, count in (("tiny_train", 48), ("tiny_dev", 16)):
        lines = []
        for _ in range(count):
            for w in rng.choice(frames):
                if w in ("{P}", "{L}"):
                    ent, kind = (rng.choice(people), "person") if w == "{P}" else (rng.choice(places), "location")
                    for k, part in enumerate(ent):
                        lines.append(f"{part}\t{'B' if k == 0 else 'I'}-{kind}")
                else:
                    lines.append(f"{w}\tO")
            lines.append("")
        (OUT.parent / f"{name}.conll").write_text("\n".join(lines), encoding="utf-8")
    # predict's input: one sentence per line, words split on spaces and tabs; an empty line
    (OUT.parent / "tiny_sentences.txt").write_text(
        "Sara went to\tOslo today\n\nwe love New York !\n", encoding="utf-8")


def main():
    write_tiny_conll()
    files = {name: read_conll(WNUT / f"{name}.conll") for name in ("train", "dev", "test")}
    label_list = sorted({t for _, tags in files["train"] for t in tags})
    label2id = {t: i for i, t in enumerate(label_list)}

    rng = random.Random(20)
    refs = [(name, i) for name in files for i in range(len(files[name]))]
    rng.shuffle(refs)
    odd_refs = [r for r in refs if odd(files[r[0]][r[1]][0])]
    plain_refs = [r for r in refs if not odd(files[r[0]][r[1]][0])]
    # sentences with a word that the BERT normalizer empties (U+FE0F, U+200B) first
    empties = [r for r in odd_refs if any(set(w) <= VANISHING for w in files[r[0]][r[1]][0])]
    odd_refs = empties + [r for r in odd_refs if r not in empties]
    chosen = (odd_refs[:220] + plain_refs)[:300]
    # dev and test hold tags of train's label set only (checked here: the fixture relies on it)
    for name, i in chosen:
        assert all(t in label2id for t in files[name][i][1]), (name, i)

    with tempfile.TemporaryDirectory() as d:  # a folder holding only the vocabulary
        shutil.copy(ROOT / "tests" / "data" / "bert_tiny" / "vocab.txt", d)
        tokenizers_by_name = {
            "bert": BertTokenizerFast.from_pretrained(d),
            "roberta": AutoTokenizer.from_pretrained(ROOT / "tests" / "data" / "roberta_tiny",
                                                     add_prefix_space=True),
            "xlmr": AutoTokenizer.from_pretrained(ROOT / "tests" / "data" / "xlmr_tiny"),
        }
        cases = []
        for k, (name, i) in enumerate(chosen):
            words, tags = files[name][i]
            max_length = 16 if k % 5 == 4 else 128
            for tname, tok in tokenizers_by_name.items():
                if tname != "bert" and k >= OTHERS:
                    continue
                row = {"tokenizer": tname, "file": name, "sentence": i, "max_length": max_length}
                row.update(align(tok, words, tags, label2id, max_length))
                cases.append(row)
        for words, tags in HAND:
            for tname, tok in tokenizers_by_name.items():
                row = {"tokenizer": tname, "file": None, "sentence": None, "words": words,
                       "tags": tags, "max_length": 128}
                row.update(align(tok, words, tags, label2id, 128))
                cases.append(row)

    exe = os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(str(ROOT)) else "python3"
    meta = {"generator_command": shlex.join([exe, os.path.relpath(__file__, ROOT)]),
            "versions": {"python": sys.version.split()[0], "transformers": transformers.__version__,
                         "tokenizers": tokenizers.__version__},
            "label_list": label_list, "count": len(cases),
            "counts": {t: sum(c["tokenizer"] == t for c in cases) for t in tokenizers_by_name},
            "word_without_token": sum(1 for c in cases for w in range(max(c["word_ids"]))
                                      if w not in c["word_ids"]),
            "truncated": sum(1 for c in cases if c["file"] and max(c["word_ids"]) + 1 <
                             len(files[c["file"]][c["sentence"]][0]))}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(json.dumps({"meta": meta}, sort_keys=True) + "\n")
        for c in cases:
            f.write(json.dumps(c, separators=(",", ":")) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(cases)} cases, {OUT.stat().st_size} bytes; "
          f"{meta['word_without_token']} words without a token, {meta['truncated']} truncated")


if __name__ == "__main__":
    main()
