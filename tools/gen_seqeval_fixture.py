#!/usr/bin/env python3
"""Golden values for ember's entity-level NER metrics and CoNLL reader (issue #20).

Writes tests/data/seqeval/cases.json with what seqeval 1.2.2 (default mode: conlleval-compatible,
not strict) gives for
  (a) hand-made tricky tag sequences ("hand"): I- without B-, type switches, E-/S- tags, bare
      B/I/O tags, tags that are no NE tags, an empty sentence, all O;
  (b) random sequences over 3 types ("random"), seeded: mostly BIO, some E-/S- and bare tags;
  (c) the gold tags of examples/data/wnut17/test.conll against a deterministic corruption of
      them ("wnut17"; the rule is corrupt() below, written again in tests/text/test_conll.cpp,
      so only the scores are stored), and the gold tags against themselves;
and the sentence, token and entity counts and the sorted label list of each WNUT 2017 file.

Per case: the entities seqeval's get_entities finds in y_true and y_pred (hand cases only),
micro / macro / weighted precision, recall, F1 and support (precision_recall_fscore_support with
average='micro' | 'macro' | 'weighted'; micro equals precision_score / recall_score / f1_score),
per-type [type, precision, recall, f1, support] (average=None), and for hand cases the text of
classification_report(digits=4). NaN (seqeval's macro average over no entity type) is stored as
null.

seqeval pulls scikit-learn and numpy 2; install it in a venv of its own, NOT in .venv-tools (numpy
2 there would shadow Debian's numpy 1.24 that torch 1.13 needs):
    /usr/bin/python3 -m venv /tmp/seqeval-venv && /tmp/seqeval-venv/bin/pip install seqeval==1.2.2
    /tmp/seqeval-venv/bin/python tools/gen_seqeval_fixture.py
"""
from __future__ import annotations

import json
import math
import random
import sys
import warnings
from importlib.metadata import version
from pathlib import Path

from seqeval.metrics import classification_report
from seqeval.metrics.sequence_labeling import get_entities, precision_recall_fscore_support

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_common import REPO_ROOT, command  # noqa: E402  (standard library only)
from conll_reader import read_conll  # noqa: E402

OUT = REPO_ROOT / "tests" / "data" / "seqeval" / "cases.json"
WNUT = REPO_ROOT / "examples" / "data" / "wnut17"
WNUT_TYPES = ["corporation", "creative-work", "group", "location", "person", "product"]


def corrupt(gold: list[list[str]]) -> list[list[str]]:
    """A deterministic corruption of gold tags. i counts tokens over the whole file (from 0); the
    first rule that matches applies:
      i % 13 == 0: O -> B-<WNUT_TYPES[i % 6]> (a spurious entity); B-x / I-x -> O (a miss)
      i % 17 == 0: B-x -> I-x (an I- that starts a chunk); I-x -> B-x (a split)
      i % 19 == 0: B-x / I-x -> the same prefix with the next type in WNUT_TYPES (cyclic)
      i % 23 == 0: I-x -> O (a truncated entity)
    """
    out, i = [], 0
    for sent in gold:
        row = []
        for tag in sent:
            prefix, _, typ = tag.partition("-")
            if i % 13 == 0:
                tag = f"B-{WNUT_TYPES[i % 6]}" if tag == "O" else "O"
            elif i % 17 == 0 and prefix in ("B", "I"):
                tag = ("I-" if prefix == "B" else "B-") + typ
            elif i % 19 == 0 and prefix in ("B", "I"):
                tag = f"{prefix}-{WNUT_TYPES[(WNUT_TYPES.index(typ) + 1) % 6]}"
            elif i % 23 == 0 and prefix == "I":
                tag = "O"
            row.append(tag)
            i += 1
        out.append(row)
    return out


def num(x) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


def scores(y_true, y_pred, *, entities=False, report=False) -> dict:
    res = {}
    for avg in ("micro", "macro", "weighted"):
        p, r, f, s = precision_recall_fscore_support(y_true, y_pred, average=avg)
        res[avg] = [num(p), num(r), num(f), int(s)]
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, average=None)
    names = sorted({e[0] for e in get_entities(y_true)} | {e[0] for e in get_entities(y_pred)})
    res["per_type"] = [[n, float(a), float(b), float(c), int(d)] for n, a, b, c, d in
                       zip(names, p, r, f, s)]
    if entities:
        res["entities_true"] = [list(e) for e in get_entities(y_true)]
        res["entities_pred"] = [list(e) for e in get_entities(y_pred)]
    if report and names:  # seqeval's report fails (max() of nothing) without any entity
        res["report"] = classification_report(y_true, y_pred, digits=4)
    return res


def hand_cases() -> list[dict]:
    S = str.split  # one sentence written as space-separated tags
    cases = [
        ("seqeval docstring", [S("O O O B-MISC I-MISC I-MISC O"), S("B-PER I-PER O")],
         [S("O O B-MISC I-MISC I-MISC I-MISC O"), S("B-PER I-PER O")]),
        ("I- without B- starts a chunk", [S("O I-PER I-PER O I-LOC")],
         [S("O B-PER I-PER O B-LOC")]),
        ("I- first in the sentence", [S("I-PER O")], [S("B-PER O")]),
        ("type switch inside a chunk", [S("B-PER I-LOC I-LOC O B-ORG I-PER")],
         [S("B-PER B-LOC I-LOC O B-ORG B-PER")]),
        ("B- after B- and I- after another type", [S("B-PER B-PER I-PER B-LOC I-PER")],
         [S("B-PER I-PER I-PER B-LOC I-LOC")]),
        ("IOBES: S- and E-", [S("S-PER O B-LOC E-LOC S-ORG B-PER I-PER E-PER")],
         [S("S-PER O B-LOC I-LOC E-LOC S-ORG B-PER E-PER")]),
        ("E- without B-, E- after E-, I- after S-", [S("E-PER E-PER S-LOC I-LOC O E-ORG")],
         [S("B-PER E-PER S-LOC B-LOC O S-ORG")]),
        ("chunk at the sentence end, next sentence starts with I-",
         [S("O B-PER"), S("I-PER O"), S("B-LOC I-LOC")],
         [S("O B-PER"), S("B-PER O"), S("B-LOC I-LOC")]),
        ("bare B I O tags (type _)", [S("B I O B B I"), S("I O")],
         [S("B I O B I I"), S("O O")]),
        ("tags that are no NE tags", [S("X-PER X-PER O .-LOC B-LOC Z")],
         [S("B-PER I-PER O B-LOC I-LOC O")]),
        ("a chunk that never ends (type _ tag) and a dotted tag", [S("X O B-PER"), S(". B-LOC .")],
         [S("O O B-PER"), S("O B-LOC O")]),
        ("types with dashes and no dash", [S("B-creative-work I-creative-work BPER IPER O")],
         [S("B-creative-work I-creative I-PER B-PER O")]),
        ("non-ASCII first character and types", [S("é-PER éPER B-lieu I-lieu O B-Straße")],
         [S("B-PER I-PER B-lieu O O B-Straße")]),
        ("all O", [S("O O O"), S("O")], [S("O O O"), S("O")]),
        ("empty sentence", [[]], [[]]),
        ("empty and non-empty sentences", [[], S("B-PER O"), []], [[], S("B-PER O"), []]),
        ("no prediction", [S("B-PER I-PER O B-LOC")], [S("O O O O")]),
        ("no gold entity", [S("O O O O")], [S("B-PER I-PER O B-LOC")]),
        ("perfect", [S("B-PER I-PER O B-LOC"), S("B-ORG")], [S("B-PER I-PER O B-LOC"), S("B-ORG")]),
    ]
    return [dict(name=n, y_true=t, y_pred=p, **scores(t, p, entities=True, report=True))
            for n, t, p in cases]


def random_cases(count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    types = ["LOC", "ORG", "PER"]
    rare = ["O", "B", "I", "E-LOC", "S-PER", "E-ORG", "S-LOC"]

    def tag(prev: str) -> str:
        u = rng.random()
        if u < 0.45:
            return "O"
        if u < 0.70:
            return "B-" + rng.choice(types)
        if u < 0.93:  # mostly continue the previous type, sometimes another one
            t = prev[2:] if prev[:2] in ("B-", "I-") and rng.random() < 0.7 else rng.choice(types)
            return "I-" + t
        return rng.choice(rare)

    def sentence(n: int) -> list[str]:
        out, prev = [], "O"
        for _ in range(n):
            prev = tag(prev)
            out.append(prev)
        return out

    def perturb(sent: list[str]) -> list[str]:
        return [t if rng.random() < 0.75 else tag(sent[i - 1] if i else "O")
                for i, t in enumerate(sent)]

    cases = []
    for _ in range(count):
        lengths = [rng.randint(0, 10) for _ in range(rng.randint(1, 3))]
        y_true = [sentence(n) for n in lengths]
        y_pred = [perturb(s) for s in y_true]
        cases.append(dict(y_true=[" ".join(s) for s in y_true],
                          y_pred=[" ".join(s) for s in y_pred],
                          **scores(y_true, y_pred)))
    return cases


def wnut_section() -> tuple[dict, list[dict]]:
    files = {}
    for split in ("train", "dev", "test"):
        sents = read_conll(WNUT / f"{split}.conll")
        tags = [t for _, t in sents]
        files[split] = dict(
            sentences=len(sents), tokens=sum(len(t) for t in tags),
            entities=len(get_entities(tags)),
            labels=sorted({x for t in tags for x in t}),
            first_sentence=sents[0][0], first_tags=sents[0][1],
            last_sentence=sents[-1][0], last_tags=sents[-1][1],
        )
    gold = [t for _, t in read_conll(WNUT / "test.conll")]
    pred = corrupt(gold)
    changed = sum(a != b for g, p in zip(gold, pred) for a, b in zip(g, p))
    cases = [dict(name="wnut17 test: gold vs corrupt(gold)", changed_tags=changed,
                  **scores(gold, pred, report=True)),
             dict(name="wnut17 test: gold vs gold", **scores(gold, gold))]
    return files, cases


def main() -> None:
    warnings.filterwarnings("ignore")  # seqeval's UndefinedMetricWarning / "not NE tag"
    files, wnut_cases = wnut_section()
    fixture = {
        "description": "seqeval 1.2.2 default-mode (conlleval-compatible) entity scores and WNUT "
                       "2017 counts; see tools/gen_seqeval_fixture.py",
        "generator_command": command(),
        "versions": {"python": sys.version.split()[0], "seqeval": version("seqeval"),
                     "numpy": version("numpy"), "scikit-learn": version("scikit-learn")},
        "score_layout": "[precision, recall, f1, support]; per_type rows [type, precision, recall, "
                        "f1, support]; random cases hold sentences as space-separated tags",
        "wnut17_files": files,
        "hand": hand_cases(),
        "random": random_cases(count=250, seed=20),
        "wnut17": wnut_cases,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(fixture, ensure_ascii=False, separators=(",", ":"))
    OUT.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(REPO_ROOT)} ({len(text.encode()):,} bytes)")
    for split, f in files.items():
        print(f"  {split}: {f['sentences']} sentences, {f['tokens']} tokens, {f['entities']} entities")
    for c in wnut_cases:
        print(f"  {c['name']}: micro {c['micro']}")


if __name__ == "__main__":
    main()
