#!/usr/bin/env python3
"""Princeton WordNet 3.0 as plain text for MLM pretraining, one dictionary entry per line.

    python3 tools/wordnet_corpus.py [--wordnet-dir /usr/share/wordnet] > corpus.txt

Each synset of data.{noun,verb,adj,adv} (Debian package wordnet-base) becomes one line written the
way a dictionary prints an entry: its words, the gloss with its example sentences, and for
adjectives and adverbs the words it is similar to and the words it is the opposite of:

    boring, deadening, dull, tedious, tiresome: so lacking in interest as to cause mental
    weariness; "a boring evening with uninteresting people"; similar to uninteresting.

Why not the glosses alone: a gloss never names the word it defines, so an MLM trained on glosses
alone never sees that "dull" and "tedious" fill the same slot. Synonyms side by side, and an
adjective next to its antonym, are the lexical signal a small encoder can take to a sentence task.

Format of the data files (wndb(5WN)): `offset lex_filenum ss_type w_cnt word lex_id ... p_cnt
[pointer_symbol offset pos source/target]... | gloss`; w_cnt is two hex digits; adjective words
may carry a syntactic marker "(a)", "(p)" or "(ip)"; the licence header lines start with spaces.
WordNet 3.0 licence: use, copy, modify and distribute with the copyright notice (see the package).
"""
import argparse
import re
import sys

FILES = ["noun", "verb", "adj", "adv"]


def parse(line):
    head, _, gloss = line.partition(" | ")
    f = head.split()
    offset, pos, n = f[0], f[2], int(f[3], 16)
    words = [re.sub(r"\((a|p|ip)\)$", "", w).replace("_", " ") for w in f[4:4 + 2 * n:2]]
    k = 4 + 2 * n
    pointers = [(f[k + 1 + 4 * i], f[k + 2 + 4 * i], f[k + 3 + 4 * i])
                for i in range(int(f[k]))]
    return offset, pos, words, pointers, gloss.strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wordnet-dir", default="/usr/share/wordnet")
    args = ap.parse_args()
    entries, first_word = [], {}
    for name in FILES:
        with open(f"{args.wordnet_dir}/data.{name}", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("  "):
                    continue
                offset, pos, words, pointers, gloss = parse(line)
                # "s" (adjective satellite) shares the adjective file's offsets.
                key = ("a" if pos == "s" else pos, offset)
                first_word[key] = words[0]
                entries.append((pos, words, pointers, gloss))
    out = sys.stdout
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
        out.write(text + "\n")


if __name__ == "__main__":
    main()
