#!/usr/bin/env python3
"""Parity fixture for ember::data::ByteLevelBPETokenizer, made with Hugging Face tokenizers.

Trains a small byte-level BPE (GPT-2 / RoBERTa style) with tokenizers' ByteLevelBPETokenizer
(vocab_size 1000, special tokens <s> <pad> </s> <unk> <mask>) on the first 4000 sentences of
examples/data/sst2/train.tsv (SST-2, GLUE: Socher et al., EMNLP 2013; Wang et al., ICLR 2019;
see examples/data/sst2/README.md), wraps it in transformers' RobertaTokenizerFast (RobertaProcessing
post-processor, <mask> with lstrip=True) and writes

  tests/data/bpe_tiny/vocab.json, merges.txt      the legacy files (merges.txt starts "#version")
  tests/data/bpe_tiny/tokenizer.json              RobertaTokenizerFast.save_pretrained's file
  tests/data/bpe_tiny/golden.jsonl                line 1 {"meta": {...}} (command, versions,
      counts); every other line one case:
        {"text"            the text given to Hugging Face (a Python str),
         "text_hex"        (only when the C++ side must feed other bytes) the raw UTF-8 bytes,
                           invalid, whose errors="replace" decoding is "text",
         "text_pair", "pair_hex", "max_length" (null|int), "add_prefix_space" (bool),
         "input_ids",
         "offsets"         [begin, end) BYTE offsets into the (raw) UTF-8 text of each token's own
                           sequence; (0, 0) for the tokens RobertaProcessing adds. Hugging Face
                           gives character offsets; they are converted here.
         "decoded"         decode(input_ids, skip_special_tokens=True),
         "decoded_with_special"  decode(input_ids, skip_special_tokens=False),
         "group"}          sst2 | wnut17 | hard | mixed | invalid_utf8 | pair | truncation | prefix_space
  tests/data/bpe_tiny/unicode_sweep.json          the pre-tokenizer's character classes (the
      regex's \\p{L}, \\p{N}, \\s as tokenizers' Oniguruma sees them) for every code point, as one
      FNV-1a 64 hash per block of 4096 code points over the class letters (L, N, W, O; surrogates
      skipped); the C++ test recomputes them from utf8proc.

Setup: the project's .venv-torch (tokenizers 0.23.3, transformers 5.25).
Run:   .venv-torch/bin/python tools/gen_bpe_tokenizer_fixture.py
Debug helpers:
  --probe FIRST LAST    print tokenizers' class (L N W O) of each code point in [FIRST, LAST] (hex)
  --class-overrides     print the C++ table kGpt2ClassOverrides that bpe_tokenizer.hpp embeds
                        (where tokenizers' Unicode data differs from the system's utf8proc);
                        re-run and paste when tokenizers or utf8proc change their Unicode version.
"""
from __future__ import annotations

import codecs
import json
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_common import REPO_ROOT, SHARED_DATA, command  # noqa: E402

OUT = REPO_ROOT / "tests" / "data" / "bpe_tiny"
SST2 = REPO_ROOT / "examples" / "data" / "sst2"
WNUT = SHARED_DATA / "wnut17"
VOCAB_SIZE = 1000
TRAIN_SENTENCES = 4000
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
BLOCK = 4096
GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"


def versions() -> dict:
    import tokenizers
    import transformers

    return {"python": sys.version.split()[0], "tokenizers": tokenizers.__version__,
            "transformers": transformers.__version__}


def read_tsv(path: Path, n: int | None = None) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].split("\t")[0] == "sentence", lines[0]
    out = [l.split("\t")[0] for l in lines[1:] if l]
    return out if n is None else out[:n]


def wnut_sentences(name: str) -> list[list[str]]:
    """The sentences of wnut17/NAME (CoNLL: token TAB tag, blank line between sentences), as lists
    of tokens."""
    sents, cur = [], []
    for line in (WNUT / name).read_text(encoding="utf-8").splitlines():
        if line.strip():
            cur.append(line.split("\t")[0])
        elif cur:
            sents.append(cur)
            cur = []
    if cur:
        sents.append(cur)
    return sents


def read_wnut(n: int) -> list[str]:
    """The first n sentences of wnut17/dev.conll that hold something other than ASCII letters,
    joined with spaces (tokens as in the file)."""
    sents = [" ".join(t) for t in wnut_sentences("dev.conll")]
    interesting = [s for s in sents if any(ord(c) > 127 for c in s) or "@" in s or "http" in s or "#" in s]
    return interesting[:n]


def train(tmp: Path):
    from tokenizers import ByteLevelBPETokenizer
    from transformers import AddedToken, RobertaTokenizerFast
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(read_tsv(SST2 / "train.tsv", TRAIN_SENTENCES), vocab_size=VOCAB_SIZE,
                            min_frequency=2, special_tokens=SPECIALS, show_progress=False)
    OUT.mkdir(parents=True, exist_ok=True)
    bpe.save_model(str(OUT))  # vocab.json, merges.txt
    # RoBERTa's tokenizer: RobertaProcessing, and <mask> swallowing the space before it.
    mask = AddedToken("<mask>", lstrip=True, rstrip=False)
    tok = RobertaTokenizerFast(str(OUT / "vocab.json"), str(OUT / "merges.txt"), mask_token=mask)
    tok.save_pretrained(str(tmp))
    shutil.copy(tmp / "tokenizer.json", OUT / "tokenizer.json")
    tok_prefix = RobertaTokenizerFast(str(OUT / "vocab.json"), str(OUT / "merges.txt"),
                                      mask_token=mask, add_prefix_space=True)
    j = json.loads(tok.backend_tokenizer.to_str())
    assert j["post_processor"]["type"] == "RobertaProcessing", j["post_processor"]
    assert [t for t in j["added_tokens"] if t["content"] == "<mask>"][0]["lstrip"] is True
    return tok, tok_prefix


def byte_offsets(raw: bytes) -> list[int]:
    """Byte offset of each character of raw.decode("utf-8", errors="replace"), plus the end."""
    spans = []

    def handler(err):
        spans.append((err.start, err.end))
        return ("\ufffd", err.end)

    name = "ember-record"
    codecs.register_error(name, handler)
    text = raw.decode("utf-8", errors=name)
    starts, pos, k = [], 0, 0
    for ch in text:
        starts.append(pos)
        if ch == "\ufffd" and k < len(spans) and spans[k][0] == pos:
            pos = spans[k][1]
            k += 1
        else:
            pos += len(ch.encode("utf-8"))
    starts.append(pos)
    assert pos == len(raw)
    return starts


def make_case(tok, text, pair=None, max_length=None, group="hard", raw=None, raw_pair=None,
              prefix=False):
    kwargs = {"return_offsets_mapping": True}
    if max_length is not None:
        kwargs.update(max_length=max_length, truncation=True)
    enc = tok(text, pair, **kwargs) if pair is not None else tok(text, **kwargs)
    ids = enc["input_ids"]
    starts = [byte_offsets(raw if raw is not None else text.encode("utf-8"))]
    if pair is not None:
        starts.append(byte_offsets(raw_pair if raw_pair is not None else pair.encode("utf-8")))
    seq_ids = enc.sequence_ids()
    offsets = []
    for (b, e), s in zip(enc["offset_mapping"], seq_ids):
        if s is None:
            assert (b, e) == (0, 0)
            offsets.append([0, 0])
        else:
            offsets.append([starts[s][b], starts[s][e]])
    decoded = tok.decode(ids, skip_special_tokens=True)
    decoded_special = tok.decode(ids, skip_special_tokens=False)
    # transformers 5 adds nothing to the Rust decoder here (clean_up_tokenization_spaces=False).
    assert decoded == tok.backend_tokenizer.decode(ids, skip_special_tokens=True)
    assert decoded_special == tok.backend_tokenizer.decode(ids, skip_special_tokens=False)
    case = {"text": text, "text_pair": pair, "max_length": max_length, "add_prefix_space": prefix,
            "input_ids": ids, "offsets": offsets,
            "decoded": decoded, "decoded_with_special": decoded_special, "group": group}
    if raw is not None:
        case["text_hex"] = raw.hex()
    if raw_pair is not None:
        case["pair_hex"] = raw_pair.hex()
    return case


def hard_texts() -> list[str]:
    return [
        # contractions (the regex's first alternatives are case-sensitive)
        "it's isn't they're we've I'm you'll he'd", "IT'S ISN'T THEY'RE WE'VE I'M YOU'LL HE'D",
        "'s 't 're 've 'm 'll 'd", "''s '''t rock'n'roll o'clock", "dogs' toys", "x's'", "'",
        "'S 'T 'Re 'rE", "l'été c'est",
        # digits
        "1234567890", "3.14159 1,000,000 2023-11-30", "42nd 1st 3rd 10th", "٣٤٥ ①②③ ¹²³ ½ Ⅻ",
        "a1b2c3 x 99 bottles", " 7", "  8",
        # spaces, tabs, newlines: \s+(?!\S) and \s+
        "a  b", "a   b", "a \tb", "a\t b", "a\t\tb", "a \n b", "line1\nline2\r\nline3\rline4",
        "trailing space ", "trailing spaces   ", "   leading spaces", " ", "   ", "\t", "\n\n",
        " \t\n \r\n ", "x \u00a0y", "nbsp\u00a0space", "ideographic\u3000space", "em\u2003space",
        "line\u2028sep\u2029para", "\x85next line", "a\x0bb\x0cc", "zero\u200bwidth",
        # punctuation and symbols
        "!!!???...", "wait...what?!", "$100.00 & 50% off #deal @user ^_^ ~tilde `back` |pipe|",
        "\u201cHello,\u201d she said\u2014\u201cgoodbye\u2026\u201d", "\u00bfQu\u00e9? \u00a1S\u00ed!",
        "\u2122 \u00a9 \u00ae \u00b0 \u00b1 \u00d7 \u00f7", "<html><body>x</body></html>",
        "https://www.example.com/path?query=1&b=2#frag", "email@example.com", "C:\\Users\\f.txt",
        # letters beyond ASCII, combining marks
        "CAF\u00c9 na\u00efve \u00c5ngstr\u00f6m", "e\u0301 E\u0301 a\u0300\u0301\u0302 n\u0303o",
        "\u0301leading combining", "Z\u0324\u0308\u0301a\u0336l\u0337g\u0334o\u0335 text",
        "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440!", "\u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5",
        "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e",
        "\u0645\u064e\u0631\u0652\u062d\u064e\u0628\u064b\u0627", "\u05e9\u05b8\u05c1\u05dc\u05d5\u05b9\u05dd",
        "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e04\u0e23\u0e31\u0e1a",
        # CJK
        "\u6211\u7231\u5317\u4eac\u5929\u5b89\u95e8", "\u4eca\u5929\u5929\u6c14\u5f88\u597d\u3002",
        "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8", "\uc548\ub155\ud558\uc138\uc694 \uc138\uacc4",
        "I love \u5317\u4eac and \u6771\u4eac!", "\U00020000\U00020001 \uf900 \u2f00 \u3007",
        "\uff21\uff22\uff23\u3000\uff44\uff45\uff46\u3000\uff11\uff12\uff13\uff01",
        # emoji, ZWJ sequences, variation selectors
        "I love it \U0001F600\U0001F602\U0001F44D", "family \U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466 here",
        "\U0001F3F3\ufe0f\u200d\U0001F308 flag \U0001F44D\U0001F3FD \u2764\ufe0f", "\U0001F600",
        "\U0001F600 \U0001F600", "a\U0001F600b",
        # special tokens inside text; <mask> has lstrip=True
        "The <mask> sat on the mat.", "no space<mask>word", "two spaces  <mask> here",
        "tab\t<mask>", "<mask>", " <mask>", "<mask> <mask>", "<mask><mask>", "x\u3000<mask>y",
        "<s> already </s> here", "<s>x</s>", "a<s>b", "<pad> <unk>", "<MASK> <Mask> < mask>",
        "<<mask>>", "<s", "</s >", "<unk>nown",
        # controls, private use, unassigned, replacement character
        "a\x00b", "a\x01b\x7fc", "bom\ufeffinside", "soft\u00adhyphen", "rtl\u200emark",
        "replacement \ufffd char", "private \ue000 use \U000f0000", "unassigned \u0378 \U000e0001",
        # long words and runs
        "a" * 150, "supercalifragilistic" * 8, "ab " * 40, "!" * 64, " " * 40 + "x",
        # empty
        "",
    ]


def mixed_texts(n: int = 1800, seed: int = 2017) -> list[str]:
    """n short seeded strings (the "mixed" group; issue #20 asks for at least 2,000 strings per
    tokenizer in all): real tokens of WNUT 2017's tweets (train + dev: emoji, hashtags, URLs,
    non-ASCII names) mixed with the words of hard_texts() — Chinese, Japanese, Korean, Arabic,
    Hindi, Hebrew, Thai, Cyrillic, Greek, emoji with ZWJ and skin tones, combining marks, digits of
    other scripts — joined by single and repeated spaces, tabs, newlines, NBSP and U+3000, with
    leading / trailing whitespace and controls (NUL, DEL, ZWSP, BOM, soft hyphen) put in at random.
    Special-token spellings (<s>, <mask>, ...) stay in the hard group."""
    rng = random.Random(seed)
    real = [t for name in ("train.conll", "dev.conll") for sent in wnut_sentences(name) for t in sent]
    words = sorted({w for t in hard_texts() for w in t.split() if "<" not in w and ">" not in w})
    seps = [" "] * 6 + ["", "  ", "   ", "\t", "\n", " \n ", "\r\n", "\u00a0", "\u3000", " \t "]
    controls = ["\x00", "\x01", "\x7f", "\u200b", "\ufeff", "\u00ad", "\u0301", "\u200d"]
    out = []
    for _ in range(n):
        parts = [rng.choice(real) if rng.random() < 0.5 else rng.choice(words)
                 for _ in range(rng.randint(1, 6))]
        text = parts[0]
        for part in parts[1:]:
            text += rng.choice(seps) + part
        if rng.random() < 0.15:
            i = rng.randint(0, len(text))
            text = text[:i] + rng.choice(controls) + text[i:]
        if rng.random() < 0.1:
            text = rng.choice(seps) + text
        if rng.random() < 0.1:
            text = text + rng.choice(seps)
        out.append(text)
    return out


def invalid_utf8() -> list[bytes]:
    return [b"hello\x80world", b"caf\xc3", b"\xe2\x82 e", b"\xc0\xaf overlong", b"\xed\xa0\x80 surrogate",
            b"\xf4\x90\x80\x80 big", b"ab\xff\xfecd", b"\xf0\x9f\x98 truncated emoji",
            b"x \xe0\x80\x80 y", b"\xf0\x9f\x98A", b"<mask>\x80 <mask>", b" \x80\x80  \x81"]


def pairs(sst2: list[str]) -> list[tuple[str, str, int | None]]:
    out = [(sst2[i], sst2[i + 1], None) for i in range(0, 20, 2)]
    long_a, long_b = " ".join(sst2[0:6]), " ".join(sst2[6:9])
    out += [
        ("a b", "c", None), ("hello", "", None), ("", "hello", None), ("it's <mask>", "  spaced  ", None),
        (long_a, long_b, 32), (long_b, long_a, 32), (long_a, "short one", 24), ("short one", long_a, 24),
        ("a b c d e", "f g h i j", 10), ("a b c d e", "f g h i j", 9), ("a b c d e f", "g h i", 8),
        ("a b", "c d", 7), ("a b c d", "e f g h", 5), ("a b c d", "e f g h", 4),
        ("\U0001F600 \u00e9t\u00e9", "\u5317\u4eac <mask>", None),
    ]
    return out


def truncations(sst2: list[str]) -> list[tuple[str, int]]:
    long_a = " ".join(sst2[20:30])
    return [(long_a, 16), (long_a, 64), ("short", 128), ("un" * 30 + "able", 5), ("a", 2),
            ("\U0001F600\U0001F602\U0001F44D", 4), ("hello <mask> world", 3)]


# ------------------------------------------------------------------------------------------------
# Unicode sweep of the pre-tokenizer's classes
# ------------------------------------------------------------------------------------------------
def sweep() -> dict:
    cls = hf_classes()
    hashes = []
    for b in range(0x110000 // BLOCK):
        h = 0xCBF29CE484222325
        for cp in range(b * BLOCK, (b + 1) * BLOCK):
            if cp in cls:
                h = ((h ^ ord(cls[cp])) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
        hashes.append(f"{h:016x}")
    return {"block_size": BLOCK, "hashes": hashes,
            "what": "per block of 4096 code points (surrogates skipped): FNV-1a 64 of one letter per "
                    "code point: L (\\p{L}), N (\\p{N}), W (\\s), O (other), as tokenizers' regex sees them"}


def hf_classes(first: int = 0, last: int = 0x10FFFF) -> dict[int, str]:
    """The class tokenizers' regex gives each code point of [first, last] (no surrogates)."""
    from tokenizers import Regex
    from tokenizers.pre_tokenizers import Split

    splitters = [(c, Split(Regex(p), behavior="removed")) for c, p in
                 (("L", r"\p{L}"), ("N", r"\p{N}"), ("W", r"\s"))]
    out = {}
    for b in range(first, last + 1, BLOCK):
        cps = [cp for cp in range(b, min(b + BLOCK, last + 1)) if not 0xD800 <= cp <= 0xDFFF]
        text = "".join(chr(cp) for cp in cps)
        cls = ["O"] * len(cps)
        for c, sp in splitters:
            kept = [False] * len(cps)
            for _, (s, e) in sp.pre_tokenize_str(text):
                for k in range(s, e):
                    kept[k] = True
            for k in range(len(cps)):
                if not kept[k]:
                    cls[k] = c
        out.update(zip(cps, cls))
    return out


def class_overrides():
    """Print the C++ table kGpt2ClassOverrides of include/ember/data/bpe_tokenizer.hpp: the code
    points whose class in tokenizers (Oniguruma's Unicode tables) differs from what the system's
    utf8proc says (general category L* → L, N* → N; whitespace as ember's is_whitespace)."""
    import ctypes
    import ctypes.util

    lib = ctypes.CDLL(ctypes.util.find_library("utf8proc") or "libutf8proc.so")
    lib.utf8proc_category.restype = ctypes.c_int
    lib.utf8proc_unicode_version.restype = ctypes.c_char_p
    white = {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F,
             0x3000, *range(0x2000, 0x200B)}

    def mine(cp):
        if cp in white:
            return "W"
        cat = lib.utf8proc_category(cp)
        return "L" if 1 <= cat <= 5 else "N" if 9 <= cat <= 11 else "O"

    hf = hf_classes()
    ranges = []
    for cp in sorted(hf):
        if hf[cp] != mine(cp):
            if ranges and ranges[-1][1] == cp - 1 and ranges[-1][2] == hf[cp]:
                ranges[-1][1] = cp
            else:
                ranges.append([cp, cp, hf[cp]])
    names = {"L": "letter", "N": "number", "W": "space", "O": "other"}
    print(f"// utf8proc {lib.utf8proc_unicode_version().decode()} vs tokenizers: "
          f"{sum(r[1] - r[0] + 1 for r in ranges)} code points in {len(ranges)} ranges.")
    items = [f"{{0x{a:X}, 0x{b:X}, Gpt2Class::{names[c]}}}" for a, b, c in ranges]
    line = "   "
    for it in items:
        if len(line) + len(it) + 2 > 100:
            print(line)
            line = "   "
        line += " " + it + ","
    print(line)


def probe(first: int, last: int):
    """Print the class tokenizers gives each code point of [first, last] (debugging the sweep)."""
    for cp, c in sorted(hf_classes(first, last).items()):
        print(f"{cp:x} {c}")


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--class-overrides":
        class_overrides()
        return
    if len(sys.argv) == 4 and sys.argv[1] == "--probe":
        probe(int(sys.argv[2], 16), int(sys.argv[3], 16))
        return
    tmp = Path(tempfile.mkdtemp(prefix="ember-bpe-"))
    try:
        tok, tok_prefix = train(tmp)
    finally:
        shutil.rmtree(tmp)
    dev = read_tsv(SST2 / "dev.tsv")
    cases = []
    for s in dev[:30]:
        cases.append(make_case(tok, s, group="sst2"))
    for s in read_wnut(25):
        cases.append(make_case(tok, s, group="wnut17"))
    for s in hard_texts():
        cases.append(make_case(tok, s, group="hard"))
    for s in mixed_texts():
        cases.append(make_case(tok, s, group="mixed"))
    for raw in invalid_utf8():
        cases.append(make_case(tok, raw.decode("utf-8", errors="replace"), raw=raw, group="invalid_utf8"))
    raw_a, raw_b = b"caf\xc3 \xff<mask>", b"\xe2\x82\xac 5 \x80"
    cases.append(make_case(tok, raw_a.decode("utf-8", "replace"), raw_b.decode("utf-8", "replace"),
                           raw=raw_a, raw_pair=raw_b, group="invalid_utf8"))
    for a, b, n in pairs(dev):
        cases.append(make_case(tok, a, b, n, group="pair"))
    for t, n in truncations(dev):
        cases.append(make_case(tok, t, None, n, group="truncation"))
    for s in ["hello world", "Hello", " already spaced", "  two", "<s>x", "a <mask> b", "<mask>x",
              "\U0001F600 smile", "\u00e9t\u00e9", "", " ", "it's", "x\ny"]:
        cases.append(make_case(tok_prefix, s, group="prefix_space", prefix=True))
    cases.append(make_case(tok_prefix, "pair one", "pair two", None, group="prefix_space", prefix=True))
    cases.append(make_case(tok_prefix, " lead", "\u00e9t\u00e9 x", None, group="prefix_space", prefix=True))

    meta = {"command": command(), "versions": versions(), "count": len(cases),
            "vocab_size": VOCAB_SIZE, "train": f"first {TRAIN_SENTENCES} sentences of examples/data/sst2/train.tsv",
            "offsets": "byte offsets into each sequence's raw UTF-8 text"}
    path = OUT / "golden.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps({"meta": meta}, ensure_ascii=False, separators=(",", ":")) + "\n")
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"wrote {os.path.relpath(path, REPO_ROOT)}: {len(cases)} cases, {path.stat().st_size} bytes")
    sw = sweep()
    sw["command"] = command()
    sw["versions"] = versions()
    spath = OUT / "unicode_sweep.json"
    spath.write_text(json.dumps(sw, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {os.path.relpath(spath, REPO_ROOT)}: {spath.stat().st_size} bytes")
    for name in ("vocab.json", "merges.txt", "tokenizer.json"):
        print(f"  {name}: {(OUT / name).stat().st_size} bytes")


if __name__ == "__main__":
    main()
