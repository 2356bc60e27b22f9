#!/usr/bin/env python3
"""Golden fixture for a tiny randomly-initialised BertForMaskedLM (tests/data/bert_mlm_tiny/).

Writes
  tests/data/bert_mlm_tiny/{config.json, model.safetensors, vocab.txt}   HF layout, as
      BertForMaskedLM.save_pretrained writes it: the decoder is tied to the word embeddings,
      so the shared matrix is stored once (bert.embeddings.word_embeddings.weight) and
      cls.predictions.decoder.{weight,bias} are absent.
  tests/data/bert_mlm_tiny/golden.safetensors (+ golden.json)
      inputs (input_ids, attention_mask, token_type_ids, labels: -100 where not masked),
      masked_positions (flat b * seq + s of every label != -100, row-major),
      masked_logits [M, vocab] (HF's logits at those positions), loss (HF's mean over them),
      grad.<name> for every parameter HF's named_parameters() lists (tied ones once: the word
      embeddings' gradient holds both uses), then two AdamW steps: step{1,2}.loss and
      after2.<name> (the word embeddings at rows `after2_rows` only, to keep the file small).
  tests/data/bert_pretraining_tiny/model.safetensors + config.json: the same weights saved as
      BertForPreTraining (adds cls.seq_relationship.*, next-sentence prediction) for the loader.

Run:  .venv-torch/bin/python tools/gen_bert_mlm_fixture.py
(PyTorch 2.x + transformers from PyPI: tools/setup_torch_cpu.sh.) The vocabulary is the real
uncased vocab.txt of tests/data/bert_tiny (BERT-base uncased, 30,522 tokens).
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fixture_common as fc  # noqa: E402

import torch  # noqa: E402
from transformers import (BertConfig, BertForMaskedLM, BertForPreTraining,  # noqa: E402
                          BertTokenizerFast, DataCollatorForLanguageModeling)

OUT = fc.DATA_DIR / "bert_mlm_tiny"
OUT_PRETRAINING = fc.DATA_DIR / "bert_pretraining_tiny"
CONFIG = dict(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
              intermediate_size=64, max_position_embeddings=64, type_vocab_size=2,
              hidden_act="gelu", hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
              initializer_range=0.02, layer_norm_eps=1e-12)
TRAIN = dict(lr=1e-3, betas=[0.9, 0.999], eps=1e-8, weight_decay=0.01, steps=2,
             no_decay="every bias and every LayerNorm parameter (weight decay 0)",
             mode="model.eval() (dropout off); the same batch every step; no clipping, constant lr",
             order="forward -> loss.backward() -> AdamW.step() -> zero_grad()")
SENTENCES = [
    "a gorgeous , witty , seductive movie .",
    "the acting , costumes , music , cinematography and sound are all astounding given the "
    "production 's austere locales .",
    "it 's slow -- very , very slow .",
]


def main() -> None:
    fc.setup_torch()
    OUT.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(fc.DATA_DIR / "bert_tiny" / "vocab.txt", OUT / "vocab.txt")
    tok = BertTokenizerFast.from_pretrained(str(OUT))  # reads vocab.txt (lower-cased: BERT uncased)
    assert len(tok) == 30522 and tok.mask_token_id == 103

    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(**CONFIG))
    model.eval()
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight
    model.save_pretrained(str(OUT), safe_serialization=True)

    enc = tok(SENTENCES, padding=True, return_tensors="pt")
    collator = DataCollatorForLanguageModeling(tok, mlm_probability=0.3, seed=0)
    batch = collator([{k: enc[k][i] for k in enc} for i in range(len(SENTENCES))])
    input_ids, labels = batch["input_ids"], batch["labels"]
    assert (labels != -100).sum() >= 6, labels
    out = model(input_ids=input_ids, attention_mask=enc["attention_mask"],
                token_type_ids=enc["token_type_ids"], labels=labels)
    out.loss.backward()
    flat = labels.reshape(-1)
    positions = torch.nonzero(flat != -100).reshape(-1)
    t = {"input_ids": input_ids, "attention_mask": enc["attention_mask"],
         "token_type_ids": enc["token_type_ids"], "labels": labels,
         "masked_positions": positions,
         "masked_logits": out.logits.reshape(flat.numel(), -1)[positions],
         "loss": out.loss.reshape(1)}
    names = []
    for name, p in model.named_parameters():
        t[f"grad.{name}"] = p.grad
        names.append(name)
    model.zero_grad(set_to_none=True)

    # Two AdamW steps: no decay on biases and LayerNorm parameters (by module, as HF's Trainer).
    no_decay = lambda n: n.endswith("bias") or "LayerNorm" in n  # noqa: E731
    named = list(model.named_parameters())
    opt = torch.optim.AdamW([
        {"params": [p for n, p in named if not no_decay(n)], "weight_decay": TRAIN["weight_decay"]},
        {"params": [p for n, p in named if no_decay(n)], "weight_decay": 0.0}],
        lr=TRAIN["lr"], betas=tuple(TRAIN["betas"]), eps=TRAIN["eps"])
    for step in (1, 2):
        loss = model(input_ids=input_ids, attention_mask=enc["attention_mask"],
                     token_type_ids=enc["token_type_ids"], labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        t[f"step{step}.loss"] = loss.detach().reshape(1)
    g = torch.Generator().manual_seed(1)
    rows = torch.unique(torch.cat([input_ids.reshape(-1), torch.randint(0, 30522, (256,), generator=g)]))
    t["after2_rows"] = rows
    for n, p in named:
        t[f"after2.{n}"] = p.detach()[rows] if n == "bert.embeddings.word_embeddings.weight" else p.detach()

    fc.save_tensors(OUT / "golden.safetensors", t,
                    description="tiny BertForMaskedLM (tests/data/bert_mlm_tiny), eval mode; see golden.json")
    fc.save_json(OUT / "golden.json", {
        "config": CONFIG, "seed": "torch.manual_seed(0) then BertForMaskedLM(BertConfig(**config))",
        "sentences": SENTENCES,
        "masking": "DataCollatorForLanguageModeling(tok, mlm_probability=0.3, seed=0) on the padded batch",
        "parameters": names, "train": TRAIN,
        "saved_keys": sorted(__import__("safetensors").safe_open(str(OUT / "model.safetensors"), "pt").keys()),
    })

    # The same weights as a BertForPreTraining checkpoint (MLM head + next-sentence head).
    OUT_PRETRAINING.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    pre = BertForPreTraining(BertConfig(**CONFIG))
    missing = pre.load_state_dict(BertForMaskedLM.from_pretrained(str(OUT)).state_dict(), strict=False)
    assert set(missing.missing_keys) == {"cls.seq_relationship.weight", "cls.seq_relationship.bias",
                                         "bert.pooler.dense.weight", "bert.pooler.dense.bias"}, missing
    pre.save_pretrained(str(OUT_PRETRAINING), safe_serialization=True)
    for p in OUT_PRETRAINING.iterdir():
        if p.name not in ("config.json", "model.safetensors"):
            p.unlink()


if __name__ == "__main__":
    main()
