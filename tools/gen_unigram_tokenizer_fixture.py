#!/usr/bin/env python3
"""Parity fixture for ember::data::UnigramTokenizer, made with SentencePiece and Hugging Face.

Trains a small SentencePiece unigram model with the `sentencepiece` package (vocab_size 1000,
normalization nmt_nfkc, which stores a precompiled charsmap; one thread, so the model is the same
every run) on the first 4000 sentences of examples/data/sst2/train.tsv (SST-2, GLUE: Socher et al.,
EMNLP 2013; Wang et al., ICLR 2019; see examples/data/sst2/README.md), converts it to a fast
tokenizer the way transformers converts XLM-RoBERTa's sentencepiece.bpe.model
(transformers.convert_slow_tokenizer.XLMRobertaConverter: <s> <pad> </s> <unk> first, <mask> last,
normalizer Sequence[Precompiled, Strip(right), Replace(Regex " {2,}", "▁")], Metaspace
pre-tokenizer and decoder, TemplateProcessing <s> $A </s> </s> $B </s>), wraps it in
XLMRobertaTokenizerFast with <mask> lstrip=True (as XLM-R's own file has it) and writes

  tests/data/unigram_tiny/tokenizer.json, tokenizer_config.json    save_pretrained's files
  tests/data/unigram_tiny/golden.jsonl    line 1 {"meta": {...}} (command, versions, counts, and
      "variants": the tokenizer.json edits of the variant cases); every other line one case:
        {"text", "text_hex", "text_pair", "pair_hex", "max_length", "input_ids", "offsets",
         "decoded", "decoded_with_special", "group"} as in tests/data/bpe_tiny/golden.jsonl
         (offsets are BYTE offsets into each sequence's raw UTF-8 text), plus
         "token_type_ids" and
         "variant"   null for the saved tokenizer.json; "hub" for the normalizer XLM-R's hub file
                     declares (Sequence[Precompiled, Replace(Regex " {2,}", " ")]), "ws" for the
                     pre-tokenizer transformers 5's XLMRobertaTokenizer builds itself
                     (Sequence[WhitespaceSplit, Metaspace]), "first"/"never" for Metaspace's
                     other prepend schemes (pre-tokenizer and decoder).
      group: sst2 | wnut17 | hard | mixed | normalizer | unknown | invalid_utf8 | pair | truncation | variant

The SentencePiece .model file is not kept (256 KB; everything is in tokenizer.json).

Setup: the project's .venv-torch (tokenizers 0.23.3, transformers 5.25) plus
`.venv-torch/bin/pip install sentencepiece`.
Run:   .venv-torch/bin/python tools/gen_unigram_tokenizer_fixture.py
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_common import REPO_ROOT, command  # noqa: E402
from gen_bpe_tokenizer_fixture import (SST2, hard_texts, invalid_utf8, make_case, pairs,  # noqa: E402
                                       read_tsv, read_wnut, mixed_texts, truncations)

OUT = REPO_ROOT / "tests" / "data" / "unigram_tiny"
VOCAB_SIZE = 1000
TRAIN_SENTENCES = 4000

# tokenizer.json edits of the variant cases: "normalizer_tail" replaces every normalizer after
# Precompiled; "pre_tokenizer" and "decoder" replace those parts. The C++ test applies the same.
VARIANTS = {
    "hub": {"normalizer_tail": [{"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]},
    "ws": {"pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "WhitespaceSplit"},
        {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}]}},
    "first": {"pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": True},
              "decoder": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": True}},
    "never": {"pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "never", "split": True},
              "decoder": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "never", "split": True}},
}


def versions() -> dict:
    import sentencepiece
    import tokenizers
    import transformers

    return {"python": sys.version.split()[0], "tokenizers": tokenizers.__version__,
            "transformers": transformers.__version__, "sentencepiece": sentencepiece.__version__}


def train(tmp: Path):
    import sentencepiece as spm
    from transformers import AddedToken, XLMRobertaTokenizerFast
    from transformers.convert_slow_tokenizer import XLMRobertaConverter
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(read_tsv(SST2 / "train.tsv", TRAIN_SENTENCES)),
        model_prefix=str(tmp / "spm"), vocab_size=VOCAB_SIZE, model_type="unigram",
        normalization_rule_name="nmt_nfkc", num_threads=1, minloglevel=2)

    class XLMRobertaTokenizer:  # what XLMRobertaConverter reads from the slow tokenizer
        vocab_file = str(tmp / "spm.model")
        add_prefix_space = True
        legacy = True

        @staticmethod
        def convert_tokens_to_ids(t):
            return {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}[t]

    backend = XLMRobertaConverter(XLMRobertaTokenizer()).converted()
    mask = AddedToken("<mask>", lstrip=True, rstrip=False, normalized=False, special=True)
    tok = XLMRobertaTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>",
                                  sep_token="</s>", cls_token="<s>", unk_token="<unk>",
                                  pad_token="<pad>", mask_token=mask)
    tok.save_pretrained(str(tmp / "out"))
    OUT.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tmp / "out" / name, OUT / name)
    j = json.loads(tok.backend_tokenizer.to_str())
    assert j["model"]["type"] == "Unigram" and not j["model"]["byte_fallback"], j["model"]["type"]
    assert [n["type"] for n in j["normalizer"]["normalizers"]] == ["Precompiled", "Strip", "Replace"]
    assert j["post_processor"]["type"] == "TemplateProcessing"
    assert [t for t in j["added_tokens"] if t["content"] == "<mask>"][0]["lstrip"] is True
    return tok


def variant_tokenizer(tok, name: str):
    """tok with VARIANTS[name]'s edits of its tokenizer.json."""
    from tokenizers import Tokenizer
    from transformers import XLMRobertaTokenizerFast

    j = json.loads(tok.backend_tokenizer.to_str())
    edit = VARIANTS[name]
    if "normalizer_tail" in edit:
        j["normalizer"]["normalizers"] = j["normalizer"]["normalizers"][:1] + copy.deepcopy(edit["normalizer_tail"])
    for part in ("pre_tokenizer", "decoder"):
        if part in edit:
            j[part] = copy.deepcopy(edit[part])
    return XLMRobertaTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(j)),
                                   bos_token="<s>", eos_token="</s>", sep_token="</s>", cls_token="<s>",
                                   unk_token="<unk>", pad_token="<pad>", mask_token=tok.mask_token)


def unigram_case(tok, text, pair=None, max_length=None, group="hard", raw=None, raw_pair=None,
                 variant=None):
    case = make_case(tok, text, pair, max_length, group=group, raw=raw, raw_pair=raw_pair)
    del case["add_prefix_space"]
    kwargs = {"max_length": max_length, "truncation": True} if max_length is not None else {}
    enc = tok(text, pair, **kwargs) if pair is not None else tok(text, **kwargs)
    case["token_type_ids"] = enc["token_type_ids"] if "token_type_ids" in enc else [0] * len(case["input_ids"])
    case["variant"] = variant
    return case


def normalizer_texts() -> list[str]:
    """Cases for the precompiled charsmap (nmt_nfkc) and the Strip / Replace normalizers."""
    return [
        # full-width letters, digits and punctuation; half-width katakana
        "\uff21\uff42\uff43 \uff11\uff12\uff13\uff01 \uff08\uff58\uff09", "\uff76\uff9e\uff77\uff9e \uff8a\uff9f",
        # ligatures and compatibility characters
        "\ufb01ne \ufb02ow \ufb00 \ufb03x", "\u2460\u2461 \u00bd \u00b2 \u2122 \u3396 \u337f", "\u2163 \u216b \u2170",
        "\u00b5 \u212b \u2126 \u00aa \u00ba", "\u1d43 \u02b0 \u2071", "\u3131\u314f \u1100\u1161",
        # combining accents vs precomposed; graphemes the charsmap treats as one unit
        "cafe\u0301 caf\u00e9", "e\u0301\u0301 a\u0300 n\u0303", "\ufb01\u0301x", "\uff21\uff22\u0301",
        "\u2460\u0308y", "\u2460\u0308\u0308y", "\u00bd\u0301x", "\uff76\u3099 \uff76\uff9e",
        "\u1100\u1161\u11a8 \uac01", "\u0915\u094d\u0937 \u0e01\u0e33",
        # spaces: runs, leading/trailing, tabs, newlines, other Unicode spaces
        "a  b", "a   b    c", "  leading", "trailing  ", "   ", " ", "\t", "a\tb", "a\nb", "a \n b",
        "a\r\nb", "x\u3000y", "x\u00a0y", "x\u2003y", "x\u2028y", " \t\n ", "end\t", "end\n",
        # zero-width, format and control characters
        "zero\u200bwidth", "a\u200cb\u200dc", "a\ufeffb", "\ufeffbom", "soft\u00adhyphen", "a\x00b",
        "a\x01b\x02c", "\x01b", "a\x01", "\x01\x02b", "a\x7fb", "rtl\u200emark", "a\u2060b",
        "replacement \ufffd char", "private \ue000 use",
        # the replacement character of the pre-tokenizer itself
        "\u2581", "a\u2581b", "\u2581\u2581x", "a \u2581 b",
    ]


def unknown_texts() -> list[str]:
    """Characters the 1000-piece vocabulary lacks: consecutive unknowns fuse into one <unk>."""
    return [
        "\u5317\u4eac", "\u6211\u7231\u5317\u4eac", "I love \u5317\u4eac and \u6771\u4eac!",
        "\U0001F600", "\U0001F600\U0001F602 ok \U0001F44D", "a\U0001F600b",
        "family \U0001F468\u200d\U0001F469\u200d\U0001F467 here", "\u0645\u0631\u062d\u0628\u0627",
        "\u041f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440", "Q", "QQQ", "HELLO World",
        "x\u00e9y", "\u00e9\u00e9", "<unk> \U0001F600", "zzz\u5317qqq",
    ]


def special_texts() -> list[str]:
    return ["The <mask> sat on the mat.", "no space<mask>word", "two spaces  <mask> here", "<mask>",
            " <mask>", "<mask> <mask>", "<mask><mask>", "tab\t<mask>", "x\u3000<mask>y",
            "<s> already </s> here", "<s>x</s>", "a<s>b", "<pad> <unk>", "<MASK> < mask>", "<s",
            "a <mask>  ", "  <mask>  b"]


def main():
    tmp = Path(tempfile.mkdtemp(prefix="ember-unigram-"))
    try:
        tok = train(tmp)
    finally:
        shutil.rmtree(tmp)
    dev = read_tsv(SST2 / "dev.tsv")
    cases = []
    for s in dev[:30]:
        cases.append(unigram_case(tok, s, group="sst2"))
    for s in read_wnut(25):
        cases.append(unigram_case(tok, s, group="wnut17"))
    for s in normalizer_texts():
        cases.append(unigram_case(tok, s, group="normalizer"))
    for s in unknown_texts():
        cases.append(unigram_case(tok, s, group="unknown"))
    for s in special_texts():
        cases.append(unigram_case(tok, s, group="hard"))
    for s in hard_texts():
        cases.append(unigram_case(tok, s, group="hard"))
    for s in mixed_texts():
        cases.append(unigram_case(tok, s, group="mixed"))
    for raw in invalid_utf8():
        cases.append(unigram_case(tok, raw.decode("utf-8", errors="replace"), raw=raw, group="invalid_utf8"))
    raw_a, raw_b = b"caf\xc3 \xff<mask>", b"\xe2\x82\xac 5 \x80"
    cases.append(unigram_case(tok, raw_a.decode("utf-8", "replace"), raw_b.decode("utf-8", "replace"),
                              raw=raw_a, raw_pair=raw_b, group="invalid_utf8"))
    for a, b, n in pairs(dev):
        cases.append(unigram_case(tok, a, b, n, group="pair"))
    for t, n in truncations(dev):
        cases.append(unigram_case(tok, t, None, n, group="truncation"))
    variant_texts = ["hello  world", "  two  spaces  ", "a \t b", "x\u3000\u3000y", "The <mask>  sat.",
                     "\ufb01ne  \uff21", "", " ", "end  ", "it 's a charming movie", "<s> x", "a\n\nb"]
    for name in VARIANTS:
        vt = variant_tokenizer(tok, name)
        for s in variant_texts:
            cases.append(unigram_case(vt, s, group="variant", variant=name))
        cases.append(unigram_case(vt, "pair  one ", " pair two", None, group="variant", variant=name))

    meta = {"command": command(), "versions": versions(), "count": len(cases),
            "vocab_size": len(tok), "train": f"first {TRAIN_SENTENCES} sentences of examples/data/sst2/train.tsv",
            "offsets": "byte offsets into each sequence's raw UTF-8 text", "variants": VARIANTS}
    path = OUT / "golden.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps({"meta": meta}, ensure_ascii=False, separators=(",", ":")) + "\n")
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"wrote {os.path.relpath(path, REPO_ROOT)}: {len(cases)} cases, {path.stat().st_size} bytes")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        print(f"  {name}: {(OUT / name).stat().st_size} bytes")


if __name__ == "__main__":
    main()
