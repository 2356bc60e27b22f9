#!/usr/bin/env python3
"""Public English text from Debian packages as an MLM pretraining corpus, one document per line.

    python3 tools/debian_corpus.py [--sources wordnet gcide fortunes] [--shuffle SEED] > corpus.txt

Sources (install them with `apt-get install wordnet-base dict-gcide fortunes`):

- `wordnet`: Princeton WordNet 3.0 (package wordnet-base; WordNet 3.0 licence: use, copy, modify
  and distribute with the copyright notice), each synset written the way a dictionary prints an
  entry: its words, the gloss with its example sentences, and for adjectives and adverbs the
  words it is similar to and the words it is the opposite of:

      boring, deadening, dull, tedious, tiresome: so lacking in interest as to cause mental
      weariness; "a boring evening with uninteresting people"; similar to uninteresting.

  A gloss never names the word it defines, so an MLM trained on glosses alone never sees that
  "dull" and "tedious" fill the same slot; synonyms side by side, and an adjective next to its
  antonym, are the lexical signal a small encoder can take to a sentence task.
  Format of the data files (wndb(5WN)): `offset lex_filenum ss_type w_cnt word lex_id ... p_cnt
  [pointer_symbol offset pos source/target]... | gloss`; w_cnt is two hex digits; adjective
  words may carry a syntactic marker "(a)", "(p)" or "(ip)"; licence lines start with spaces.
- `gcide`: the Collaborative International Dictionary of English 0.48 (package dict-gcide; GNU
  GPL v2 or later, /usr/share/doc/dict-gcide/copyright): Webster's Revised Unabridged Dictionary
  of 1913 with later additions, ~128,000 entries, many with quotations from English literature.
  One entry per line, its markup removed: the `\\Ab*do"men\\` pronunciations, the `[1913
  Webster]` / `[PJC]` source tags and the bracketed etymologies and usage labels (`[L. ...]`,
  `[Obs.]`), the `{...}` cross-reference braces (their words kept); the accent codes (`['e]`,
  `[=a]`, `[ae]`) become plain letters.
- `fortunes`: the fortune-cookie collection (package fortunes; BSD fortune(6) data,
  /usr/share/doc/fortunes/copyright), ~15,000 quotations, jokes and short texts in modern
  English; one per line.

The default writes all three (~6.4 M words), source after source; `--shuffle SEED` writes the
documents in a seeded random order instead, so that a held-out tail (`pretrain
--validation-ratio` takes the last documents) samples every source. `--sources wordnet` alone is
the corpus of the WordNet-entries run in docs/pretraining.md.
"""
import argparse
import gzip
import os
import random
import re
import sys

# ---- WordNet ----------------------------------------------------------------------------------


def wordnet_parse(line):
    head, _, gloss = line.partition(" | ")
    f = head.split()
    offset, pos, n = f[0], f[2], int(f[3], 16)
    words = [re.sub(r"\((a|p|ip)\)$", "", w).replace("_", " ") for w in f[4:4 + 2 * n:2]]
    k = 4 + 2 * n
    pointers = [(f[k + 1 + 4 * i], f[k + 2 + 4 * i], f[k + 3 + 4 * i])
                for i in range(int(f[k]))]
    return offset, pos, words, pointers, gloss.strip()


def wordnet(directory="/usr/share/wordnet"):
    entries, first_word = [], {}
    for name in ["noun", "verb", "adj", "adv"]:
        with open(f"{directory}/data.{name}", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("  "):
                    continue
                offset, pos, words, pointers, gloss = wordnet_parse(line)
                # "s" (adjective satellite) shares the adjective file's offsets.
                key = ("a" if pos == "s" else pos, offset)
                first_word[key] = words[0]
                entries.append((pos, words, pointers, gloss))
    for pos, words, pointers, gloss in entries:
        text = ", ".join(dict.fromkeys(words)) + ": " + gloss.rstrip(" ;")
        if pos in ("a", "s", "r"):
            rel = {"&": [], "!": []}
            for symbol, offset, ppos in pointers:
                if symbol in rel:
                    w = first_word.get(("a" if ppos == "s" else ppos, offset))
                    if w and w not in rel[symbol]:
                        rel[symbol].append(w)
            if rel["&"]:
                text += "; similar to " + ", ".join(rel["&"])
            if rel["!"]:
                text += "; opposite of " + ", ".join(rel["!"])
        yield text


# ---- GCIDE ------------------------------------------------------------------------------------

# An entry starts at column 0 with its headword and a pronunciation between backslashes; the
# lines after it (indented, or a few that lost their indentation) belong to it.
GCIDE_HEAD = re.compile(r"^\S[^\\]*\\[^\\]*\\")
# Named character codes of the dictd conversion; anything else bracketed is a tag or etymology.
GCIDE_NAMED = {"ae": "ae", "AE": "AE", "oe": "oe", "OE": "OE", "imac": "i", "aum": "a",
               "asl": "a", "add": "a", "udd": "u", "eth": "th", "thorn": "th", "ng": "ng",
               "yogh": "y", "th": "th", "oo": "oo"}
# Words an editor inserted into a quotation ("[He] said"): keep the word, drop the brackets.
GCIDE_KEEP = {"He", "She", "They", "We", "It", "I", "The", "His", "Thou", "To", "Men", "Man",
              "God", "Jesus", "Love", "Eve", "Joseph"}
ACCENT = re.compile(r"\[(?:['\"=~`^.,*-]([a-zA-Z]{1,2})|([a-zA-Z]{1,2})[\^:~`])\]")
NAMED = re.compile(r"\[(?:=)?([a-zA-Z]{2,5})\]")
BRACKET = re.compile(r"\[([^\[\]]*)\]")


def gcide_clean(text):
    text = re.sub(r"\\[^\\]*\\", " ", text)                    # pronunciations
    text = ACCENT.sub(lambda m: m.group(1) or m.group(2), text)
    text = NAMED.sub(lambda m: GCIDE_NAMED.get(m.group(1), m.group(0)), text)
    while True:                                                 # tags, labels, etymologies
        new = BRACKET.sub(lambda m: m.group(1) if m.group(1) in GCIDE_KEEP else " ", text)
        if new == text:
            break
        text = new
    text = text.replace("{", "").replace("}", "")
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r" ([,.;:])", r"\1", text)


def gcide(path="/usr/share/dictd/gcide.dict.dz"):
    def entry(lines):
        # The respelled pronunciation: the parenthesis right after the \...\ one, or any
        # parenthesis of the head line with the respelling marks " * `.
        head = re.sub(r"(\\[^\\]*\\)\s*\([^()]*\)", r"\1", lines[0])
        head = re.sub(r"\([^()]*[\"*`][^()]*\)", " ", head)
        return gcide_clean(" ".join([head] + lines[1:]))

    lines = None                                    # None: still in the database header
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if GCIDE_HEAD.match(line):
                if lines:
                    yield entry(lines)
                lines = [line]
            elif lines is not None and line.strip():
                lines.append(line.strip())
    if lines:
        yield entry(lines)


# ---- fortunes ---------------------------------------------------------------------------------


def fortunes(directory="/usr/share/games/fortunes"):
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if "." in name or not os.path.isfile(path):   # the .dat indexes and .u8 links
            continue
        with open(path, encoding="utf-8", errors="replace") as fh:
            for text in re.split(r"(?m)^%\s*$", fh.read()):
                text = re.sub(r"\s+", " ", text).strip()
                if text:
                    yield text


SOURCES = {"wordnet": wordnet, "gcide": gcide, "fortunes": fortunes}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sources", nargs="+", choices=list(SOURCES), default=list(SOURCES))
    ap.add_argument("--shuffle", type=int, metavar="SEED", help="write in a seeded random order")
    args = ap.parse_args()
    documents = []
    for name in args.sources:
        n = len(documents)
        documents += [text for text in SOURCES[name]()
                      if name == "wordnet" or len(text.split()) >= 3]   # drop bare headwords
        print(f"{name}: {len(documents) - n} documents", file=sys.stderr)
    if args.shuffle is not None:
        random.Random(args.shuffle).shuffle(documents)
    sys.stdout.writelines(text + "\n" for text in documents)


if __name__ == "__main__":
    main()
