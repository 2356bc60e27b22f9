"""The rules of ember::data::read_conll (include/ember/data/conll.hpp) in Python, shared by the
tools that read CoNLL files (gen_seqeval_fixture.py, gen_token_classification_fixture.py,
hf_train_ner.py): lines split on '\\n' (a final '\\r' dropped, a BOM skipped), a blank or
whitespace-only line or a -DOCSTART- line ends a sentence, a line with a tab is split on tabs,
else on spaces; the token is the first field, the tag the last."""
from __future__ import annotations

from pathlib import Path


def read_conll(path) -> list[tuple[list[str], list[str]]]:
    """[(tokens, tags), ...] of a CoNLL file; exits with a message for a file without sentences."""
    sentences, tokens, tags = [], [], []
    for line in Path(path).read_bytes().decode("utf-8-sig").split("\n"):
        line = line.removesuffix("\r")
        if line.strip(" \t") == "" or line.startswith("-DOCSTART-"):
            if tokens:
                sentences.append((tokens, tags))
            tokens, tags = [], []
            continue
        body = line.rstrip(" \t")
        fields = [f.strip(" ") for f in body.split("\t")] if "\t" in body else body.split()
        if len(fields) < 2:
            raise SystemExit(f"{path}: expected 'token<TAB>tag', found {line!r}")
        tokens.append(fields[0])
        tags.append(fields[-1])
    if tokens:
        sentences.append((tokens, tags))
    if not sentences:
        raise SystemExit(f"{path}: no sentences")
    return sentences
