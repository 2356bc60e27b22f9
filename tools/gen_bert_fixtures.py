#!/usr/bin/env python3
"""Golden fixtures for a tiny randomly-initialised BERT (tests/data/bert_tiny/).

Writes
  tests/data/bert_tiny/{config.json, model.safetensors, vocab.txt}   HF layout
  tests/data/bert_tiny/golden.safetensors (+ golden.json)            forward/backward of cases a, b, c
  tests/data/bert_tiny/train_steps.safetensors (+ train_steps.json)  2 AdamW steps (eval mode, no dropout)
  tests/data/bert_tiny_gelu_new/{config.json, golden.safetensors (+json)}, with
      model.safetensors and vocab.txt as symlinks to ../bert_tiny/ (same weights)

Run:  .venv-tools/bin/python tools/gen_bert_fixtures.py [--model-dir DIR]
The vocabulary is the real uncased vocab.txt of all-MiniLM-L6-v2 (scripts/fetch_model.sh).
See tools/README.md for the key layout.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fixture_common as fc  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import transformers  # noqa: E402
from transformers import (BertConfig, BertForSequenceClassification,  # noqa: E402
                          BertTokenizerFast, get_linear_schedule_with_warmup)

OUT = fc.DATA_DIR / "bert_tiny"
OUT_GELU_NEW = fc.DATA_DIR / "bert_tiny_gelu_new"
MAX_POS = 64

CONFIG = dict(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
              intermediate_size=64, max_position_embeddings=MAX_POS, type_vocab_size=2,
              hidden_act="gelu", num_labels=3, hidden_dropout_prob=0.1,
              attention_probs_dropout_prob=0.1, initializer_range=0.02, layer_norm_eps=1e-12)

TRAIN = dict(lr=1e-3, betas=[0.9, 0.999], eps=1e-8, weight_decay=0.01, max_grad_norm=1.0,
             num_warmup_steps=1, num_training_steps=4, steps=2,
             no_decay_rule="parameter names containing 'bias' or 'LayerNorm.weight' get weight_decay 0.0",
             mode="model.eval() (dropout off) while optimising; same batch (case a) every step",
             loss="mean cross-entropy (BertForSequenceClassification loss with labels)",
             order="forward -> loss.backward() -> clip_grad_norm_(all params, 1.0) -> AdamW.step() -> scheduler.step() -> zero_grad()")


def make_model(hidden_act: str) -> BertForSequenceClassification:
    torch.manual_seed(0)
    cfg = BertConfig(**{**CONFIG, "hidden_act": hidden_act})
    model = BertForSequenceClassification(cfg)
    model.eval()
    return model


def ntok(tok, text, pair=None) -> int:
    return len(tok(text, pair)["input_ids"])


def pick(rows, tok, lo, hi, used, want_label=None):
    """First dev row (in file order) whose [CLS] .. [SEP] length is in [lo, hi]."""
    for i, s, y in rows:
        if i in used or (want_label is not None and y != want_label):
            continue
        if lo <= ntok(tok, s) <= hi:
            used.add(i)
            return i, s, y
    raise RuntimeError(f"no dev sentence with {lo}..{hi} tokens")


def build_cases(tok, rows):
    used: set[int] = set()
    # (a) 3 single sentences of different lengths, padded to the longest; the
    # longest is in the middle so rows 0 and 2 both carry padding.
    a_rows = [pick(rows, tok, 6, 9, used), pick(rows, tok, 20, 26, used), pick(rows, tok, 12, 16, used)]
    # (b) 2 sentence pairs (text, text_pair); labels are synthetic (2, 1) to exercise class 2.
    b_rows = [(pick(rows, tok, 8, 12, used), pick(rows, tok, 5, 8, used)),
              (pick(rows, tok, 10, 14, used), pick(rows, tok, 10, 14, used))]
    # (c) 1 unpadded sentence.
    c_rows = [pick(rows, tok, 14, 18, used)]

    cases = {}
    enc = tok([s for _, s, _ in a_rows], padding=True, return_tensors="pt")
    cases["a"] = dict(enc=enc, labels=torch.tensor([y for _, _, y in a_rows]),
                      texts=[dict(dev_row=i, text=s, label=y) for i, s, y in a_rows])
    enc = tok([p[0][1] for p in b_rows], [p[1][1] for p in b_rows], padding=True, return_tensors="pt")
    cases["b"] = dict(enc=enc, labels=torch.tensor([2, 1]),
                      texts=[dict(dev_rows=[p[0][0], p[1][0]], text=p[0][1], text_pair=p[1][1], label=lab)
                             for p, lab in zip(b_rows, [2, 1])])
    enc = tok([s for _, s, _ in c_rows], return_tensors="pt")
    cases["c"] = dict(enc=enc, labels=torch.tensor([y for _, _, y in c_rows]),
                      texts=[dict(dev_row=i, text=s, label=y) for i, s, y in c_rows])
    for k, c in cases.items():
        assert c["enc"]["input_ids"].shape[1] <= MAX_POS
        c["enc"] = {n: c["enc"][n].to(torch.int64) for n in ("input_ids", "token_type_ids", "attention_mask")}
        c["labels"] = c["labels"].to(torch.int64)
        for t, ids, m in zip(c["texts"], c["enc"]["input_ids"], c["enc"]["attention_mask"]):
            t["input_ids"] = ids[m.bool()].tolist()
            t["tokens"] = tok.convert_ids_to_tokens(t["input_ids"])
    return cases


def forward_case(model, k, case, with_grad: bool) -> dict:
    enc, labels = case["enc"], case["labels"]
    out = {f"{k}.{n}": v for n, v in enc.items()}
    out[f"{k}.labels"] = labels
    model.zero_grad(set_to_none=True)
    with torch.set_grad_enabled(with_grad):
        bo = model.bert(**enc, output_hidden_states=True)
        full = model(**enc, labels=labels)
        logits_manual = model.classifier(bo.pooler_output)
        assert torch.equal(full.logits, logits_manual)
        loss_manual = F.cross_entropy(full.logits, labels)
        assert torch.allclose(full.loss, loss_manual, rtol=0, atol=1e-7)
        if with_grad:
            full.loss.backward()
    out[f"{k}.last_hidden_state"] = bo.last_hidden_state
    out[f"{k}.pooler_output"] = bo.pooler_output
    out[f"{k}.logits"] = full.logits
    out[f"{k}.loss"] = full.loss.reshape(1)
    for j, h in enumerate(bo.hidden_states):
        out[f"{k}.hidden_states.{j}"] = h
    if with_grad:
        for name, p in model.named_parameters():
            assert p.grad is not None, name
            out[f"{k}.grad.{name}"] = p.grad
        model.zero_grad(set_to_none=True)
    return {n: v.detach().clone() for n, v in out.items()}


def clean_dir(d: Path, keep: set[str]) -> None:
    for p in d.iterdir():
        if p.name not in keep:
            print(f"removing {p}")
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()


def train_steps(model_dir: Path, case) -> tuple[dict, dict]:
    model = BertForSequenceClassification.from_pretrained(str(model_dir))
    model.eval()
    named = list(model.named_parameters())
    no_decay = lambda n: ("bias" in n) or ("LayerNorm.weight" in n)  # noqa: E731
    groups = [
        {"params": [p for n, p in named if not no_decay(n)], "weight_decay": TRAIN["weight_decay"]},
        {"params": [p for n, p in named if no_decay(n)], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=TRAIN["lr"], betas=tuple(TRAIN["betas"]), eps=TRAIN["eps"],
                            weight_decay=TRAIN["weight_decay"])
    sched = get_linear_schedule_with_warmup(opt, num_warmup_steps=TRAIN["num_warmup_steps"],
                                            num_training_steps=TRAIN["num_training_steps"])
    out, log = {}, []
    for step in range(1, TRAIN["steps"] + 1):
        lr = opt.param_groups[0]["lr"]
        assert all(g["lr"] == lr for g in opt.param_groups)
        loss = model(**case["enc"], labels=case["labels"]).loss
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_([p for _, p in named], TRAIN["max_grad_norm"])
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        out[f"step{step}.loss"] = loss.detach().reshape(1).float()
        out[f"step{step}.grad_norm"] = gn.detach().reshape(1).float()
        out[f"step{step}.lr"] = torch.tensor([lr], dtype=torch.float64)
        log.append(dict(step=step, lr=lr, loss=loss.item(), grad_norm=gn.item()))
    for n, p in named:
        out[f"after2.{n}"] = p.detach().clone()
    with torch.no_grad():  # forward of case a with the updated weights (what step 3 would see)
        o = model(**case["enc"], labels=case["labels"])
    out["after2.loss"] = o.loss.reshape(1)
    out["after2.logits"] = o.logits
    return out, {"hyperparameters": TRAIN, "steps": log,
                 "decay_params": [n for n, _ in named if not no_decay(n)],
                 "no_decay_params": [n for n, _ in named if no_decay(n)]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", help="all-MiniLM-L6-v2 folder (default: scripts/fetch_model.sh)")
    args = ap.parse_args()
    fc.setup_torch()

    src = fc.model_dir(args.model_dir)
    OUT.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src / "vocab.txt", OUT / "vocab.txt")
    tok = BertTokenizerFast(vocab_file=str(OUT / "vocab.txt"), do_lower_case=True,
                            clean_up_tokenization_spaces=True)
    rows = fc.read_sst2("dev")

    model = make_model("gelu")
    model.save_pretrained(str(OUT), safe_serialization=True)
    clean_dir(OUT, {"config.json", "model.safetensors", "vocab.txt", "golden.safetensors", "golden.json",
                    "train_steps.safetensors", "train_steps.json"})

    cases = build_cases(tok, rows)
    tensors = {}
    for k in ("a", "b", "c"):
        tensors.update(forward_case(model, k, cases[k], with_grad=(k == "a")))
    assert all(v.dtype in (torch.float32, torch.int64) for v in tensors.values())
    meta = dict(description="tiny BERT (tests/data/bert_tiny) eval-mode forward for cases a,b,c; "
                            "a.grad.* = d(mean CE loss of case a)/d(param)",
                attn_implementation=model.config._attn_implementation)
    fc.save_tensors(OUT / "golden.safetensors", tensors, **meta)
    fc.save_json(OUT / "golden.json", {
        "config": CONFIG, "seed": "torch.manual_seed(0) then BertForSequenceClassification(BertConfig(**config))",
        "tokenizer": "BertTokenizerFast(vocab_file=vocab.txt, do_lower_case=True)",
        "attn_implementation": model.config._attn_implementation,
        "cases": {k: {"shape": list(c["enc"]["input_ids"].shape), "labels": c["labels"].tolist(),
                      "examples": c["texts"]} for k, c in cases.items()},
    })

    # Training-step parity, starting from the saved weights.
    ts, ts_json = train_steps(OUT, cases["a"])
    fc.save_tensors(OUT / "train_steps.safetensors", ts,
                    description="2 AdamW steps on case a from model.safetensors; see train_steps.json",
                    hyperparameters=TRAIN)
    fc.save_json(OUT / "train_steps.json", ts_json)

    # gelu_new variant: same seed -> identical weights; only config + golden (case a forward).
    model2 = make_model("gelu_new")
    same = all(torch.equal(p, q) for (_, p), (_, q) in zip(model.named_parameters(), model2.named_parameters()))
    OUT_GELU_NEW.mkdir(parents=True, exist_ok=True)
    model2.save_pretrained(str(OUT_GELU_NEW), safe_serialization=True)
    if same and (OUT_GELU_NEW / "model.safetensors").read_bytes() == (OUT / "model.safetensors").read_bytes():
        for f in ("model.safetensors", "vocab.txt"):
            p = OUT_GELU_NEW / f
            if p.exists() or p.is_symlink():
                p.unlink()
            os.symlink(f"../bert_tiny/{f}", p)
    else:
        shutil.copyfile(OUT / "vocab.txt", OUT_GELU_NEW / "vocab.txt")
    clean_dir(OUT_GELU_NEW, {"config.json", "model.safetensors", "vocab.txt", "golden.safetensors"})
    t2 = forward_case(model2, "a", cases["a"], with_grad=False)
    t2 = {k: v for k, v in t2.items() if ".hidden_states." not in k}
    fc.save_tensors(OUT_GELU_NEW / "golden.safetensors", t2,
                    description="bert_tiny with hidden_act=gelu_new (weights identical to bert_tiny); case a forward; "
                                "inputs identical to bert_tiny/golden.safetensors case a")


if __name__ == "__main__":
    main()
