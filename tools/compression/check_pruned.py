#!/usr/bin/env python3
"""A BERT classifier with physically pruned attention heads (and FFN neurons), checked against
Hugging Face.

Transformers 5.x dropped head pruning (`pruned_heads` in config.json, `prune_heads`); 4.x builds
the model, prunes it by `config.pruned_heads` ({"layer": [original head indices]}) and only then
loads the weights, so the checkpoint must hold the pruned shapes: query/key/value [kept*d, hidden]
with the kept heads' rows in their original order, attention.output.dense [hidden, kept*d].
Pruned feed-forward neurons need nothing special: config.json's smaller `intermediate_size`
(the same in every layer) gives intermediate.dense [intermediate_size, hidden] and output.dense
[hidden, intermediate_size].
Needs transformers 4.x beside the project's torch, in a directory of its own:

    .venv-torch/bin/pip install --target .venv-hf4 'transformers<5'

Check ember's logits (the `logits` of `bert_classification predict --json` over one text per
line; a .tsv input gets no logits) against Hugging Face's on the same texts:

    tail -n +2 examples/data/sst2/dev.tsv | head -200 | cut -f1 > /tmp/texts.txt
    build/release/examples/bert_classification predict --model DIR --input /tmp/texts.txt \\
        --json --threads 1 > /tmp/ember.jsonl
    PYTHONPATH=.venv-hf4 .venv-torch/bin/python tools/compression/check_pruned.py \\
        --model DIR --ember-scores /tmp/ember.jsonl [--texts FILE] [--tolerance 1e-4]

Other modes: `--make-pruned OUT --heads "0:0,2;3:1,2"` prunes DIR with Hugging Face and saves
it to OUT (a fixture for ember to load); `--dump-scores FILE` writes Hugging Face's scores in
ember's format (to exercise the comparison, or as a reference). Standard library, torch and
transformers only; one CPU thread.
"""
import argparse
import csv
import json
import sys

import torch
import transformers
from transformers import AutoModelForSequenceClassification, AutoTokenizer

DEFAULT_TEXTS = "examples/data/sst2/dev.tsv"


def require_transformers_4():
    if not transformers.__version__.startswith("4."):
        sys.exit(f"check_pruned.py needs transformers 4.x (found {transformers.__version__}: 5.x "
                 "has no head pruning): PYTHONPATH=.venv-hf4 .venv-torch/bin/python "
                 "tools/compression/check_pruned.py ...  (install: .venv-torch/bin/pip install "
                 "--target .venv-hf4 'transformers<5')")


def read_texts(path, limit):
    """A .tsv with a header (the `sentence` column, SST-2 layout) or one text per line; blank
    lines are skipped as ember's predict skips them. At most `limit` texts (0: all)."""
    with open(path, encoding="utf-8") as f:
        if path.endswith(".tsv"):
            rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
            col = rows[0].index("sentence")
            texts = [r[col] for r in rows[1:]]
        else:
            texts = [line.rstrip("\r\n") for line in f]
    texts = [t for t in texts if t.strip(" \t")]
    return texts[:limit] if limit > 0 else texts


def read_ember_scores(path):
    """(texts, logits) from `bert_classification predict --json` lines (one JSON object each)."""
    texts, logits = [], []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            obj = json.loads(line)
            if "logits" not in obj:
                sys.exit(f"{path}:{n}: no 'logits' field: run `bert_classification predict "
                         "--json` on one text per line (a .tsv/.csv/.jsonl input gets none)")
            texts.append(obj.get("text"))
            logits.append(obj["logits"])
    return texts, torch.tensor(logits, dtype=torch.float32)


def load(model_dir):
    """The model in eval mode, float32, eager attention, every weight from the checkpoint."""
    model, info = AutoModelForSequenceClassification.from_pretrained(
        model_dir, output_loading_info=True, attn_implementation="eager")
    if info["missing_keys"] or info["mismatched_keys"]:
        sys.exit(f"{model_dir}: weights not in the checkpoint or of the wrong shape (Hugging Face "
                 f"would initialise them at random): missing {info['missing_keys']}, "
                 f"mismatched {info['mismatched_keys']}")
    if info["unexpected_keys"]:
        print(f"note: tensors Hugging Face ignores: {info['unexpected_keys']}")
    return model.float().eval(), AutoTokenizer.from_pretrained(model_dir)


def heads_left(model):
    """Attention heads per layer, as the built (pruned) model has them."""
    return [layer.attention.self.num_attention_heads for layer in model.base_model.encoder.layer]


def hf_logits(model, tokenizer, texts, max_length, batch_size=16):
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), batch_size):
            enc = tokenizer(texts[i:i + batch_size], padding=True, truncation=True,
                            max_length=max_length, return_tensors="pt")
            out.append(model(**enc).logits.float())
    return torch.cat(out)


def parse_heads(spec):
    """ "0:0,2;3:1,2" -> {0: [0, 2], 3: [1, 2]} """
    heads = {}
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        layer, _, idx = part.partition(":")
        heads.setdefault(int(layer), []).extend(int(h) for h in idx.split(",") if h.strip())
    return heads


def make_pruned(model, tokenizer, spec, out_dir):
    heads = parse_heads(spec)
    n_layers, n_heads = model.config.num_hidden_layers, model.config.num_attention_heads
    for layer, hs in heads.items():
        if not 0 <= layer < n_layers or any(not 0 <= h < n_heads for h in hs):
            sys.exit(f"--heads {spec!r}: layers are 0..{n_layers - 1}, heads 0..{n_heads - 1}")
        if len(set(hs)) == n_heads:
            # 4.x prunes and saves a layer down to 0 heads but cannot run it (view(-1, 0, d)).
            sys.exit(f"--heads {spec!r}: layer {layer} would keep no head, which Hugging Face "
                     "4.x saves but cannot run")
    model.prune_heads(heads)
    model.save_pretrained(out_dir)  # config.json gets "pruned_heads": {"0": [0, 2], ...}
    tokenizer.save_pretrained(out_dir)
    print(f"saved {out_dir}: pruned_heads {model.config.pruned_heads}, "
          f"heads left per layer {heads_left(model)}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="Hugging Face BERT classifier directory")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--ember-scores", metavar="FILE",
                      help="`bert_classification predict --json` output to compare with")
    mode.add_argument("--make-pruned", metavar="OUT", help="prune --model by --heads into OUT")
    mode.add_argument("--dump-scores", metavar="FILE",
                      help="write Hugging Face's scores in ember's --json format")
    p.add_argument("--heads", help='with --make-pruned: "layer:head,head;layer:head", e.g. '
                                   '"0:0,2;3:1,2" (original head indices)')
    p.add_argument("--texts", default=DEFAULT_TEXTS,
                   help=".tsv (sentence column) or one text per line (default: %(default)s)")
    p.add_argument("--limit", type=int, default=200, help="first N texts (0: all; default 200)")
    p.add_argument("--max-length", type=int, default=128, help="tokens incl. [CLS]/[SEP]")
    p.add_argument("--tolerance", type=float, default=1e-4, help="max |logit difference|")
    a = p.parse_args()
    require_transformers_4()
    torch.set_num_threads(1)

    model, tokenizer = load(a.model)
    if a.make_pruned:
        if not a.heads:
            sys.exit("--make-pruned needs --heads, e.g. --heads \"0:0,2;3:1,2\"")
        return make_pruned(model, tokenizer, a.heads, a.make_pruned)

    print(f"{a.model}: pruned_heads {model.config.pruned_heads or {}}")
    print(f"heads left per layer {heads_left(model)} of {model.config.num_attention_heads}; "
          f"intermediate_size {model.config.intermediate_size}")
    texts = read_texts(a.texts, a.limit)
    logits = hf_logits(model, tokenizer, texts, a.max_length)

    if a.dump_scores:  # the lines ember's predict --json writes for one text per line
        names = model.config.id2label
        with open(a.dump_scores, "w", encoding="utf-8") as f:
            for text, row in zip(texts, logits):
                probs = torch.softmax(row, -1).tolist()
                f.write(json.dumps({
                    "text": text, "label": names[int(row.argmax())],
                    "probabilities": {names[k]: probs[k] for k in range(len(probs))},
                    "logits": row.tolist()}) + "\n")
        print(f"wrote {len(texts)} rows to {a.dump_scores}")
        return 0

    ember_texts, ember = read_ember_scores(a.ember_scores)
    if ember.shape != logits.shape:
        sys.exit(f"{a.ember_scores}: {tuple(ember.shape)} logits, Hugging Face has "
                 f"{tuple(logits.shape)} for {a.texts} (first {a.limit}): not the same texts?")
    for i, (t, e) in enumerate(zip(texts, ember_texts)):
        if e is not None and e.strip() != t.strip():
            sys.exit(f"{a.ember_scores}: row {i + 1} is {e!r}, the texts have {t!r}")
    diff = (ember - logits).abs()
    worst = int(diff.max(-1).values.argmax())
    agree = int((ember.argmax(-1) == logits.argmax(-1)).sum())
    print(f"{len(texts)} texts: max |Δlogit| {diff.max().item():.3g} (row {worst + 1}), "
          f"mean {diff.mean().item():.3g}, same label {agree}/{len(texts)}, "
          f"tolerance {a.tolerance:g}")
    if diff.max().item() > a.tolerance:
        print("FAIL: logits differ beyond the tolerance")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
