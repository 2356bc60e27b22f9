#!/usr/bin/env python3
"""Golden fixture for attention-head pruning (tests/data/bert_tiny_pruned/), made by Hugging Face
transformers 4.x (5.x removed `prune_heads` and `config.pruned_heads`).

A tiny randomly initialised BertForSequenceClassification (vocab 100, hidden 32, 2 layers of 4
heads, 3 labels) in eval mode:
  unpruned/{config.json, model.safetensors}   the model as built
  {config.json, model.safetensors}            after model.prune_heads(PRUNE), saved by HF
  golden.safetensors (+ golden.json)          input_ids, attention_mask, token_type_ids, labels
      (a padded batch of 3), logits before and after pruning, and the head importance of the
      unpruned model (Michel et al. 2019): |d loss / d head_mask| (head_importance_raw) and each
      layer divided by its L2 norm (head_importance), loss = mean cross-entropy with the labels;
      the feed-forward neuron importance |d loss / d m| of the unpruned model (neuron_importance,
      [2, 64]; m multiplies each neuron's activation, through a forward hook on
      `intermediate`), and the logits of ffn_pruned/ (ffn_pruned_logits)
  ffn_pruned/{config.json, model.safetensors} the head-pruned model with the FFN_REMOVE least
      important neurons of every layer removed (intermediate.dense rows and bias, output.dense
      columns, config.intermediate_size 64 -> 48), saved by HF; ember's prune_neurons must
      give the same tensors and logits

Run:  PYTHONPATH=.venv-hf4 .venv-torch/bin/python tools/gen_bert_pruned_fixture.py
      (or .venv-tools/bin/python, whose transformers 4.44 also prunes)
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fixture_common as fc  # noqa: E402

import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import BertConfig, BertForSequenceClassification  # noqa: E402

OUT = fc.DATA_DIR / "bert_tiny_pruned"
CONFIG = dict(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
              intermediate_size=64, max_position_embeddings=32, type_vocab_size=2,
              hidden_act="gelu", num_labels=3, initializer_range=0.2)
PRUNE = {0: [0, 2], 1: [3]}
FFN_REMOVE = 16  # neurons per layer


def main() -> None:
    if int(transformers.__version__.split(".")[0]) != 4:
        raise SystemExit(f"needs transformers 4.x for prune_heads (found {transformers.__version__}): "
                         "PYTHONPATH=.venv-hf4 .venv-torch/bin/python tools/gen_bert_pruned_fixture.py")
    fc.setup_torch()
    torch.manual_seed(0)
    # initializer_range 0.2 (not 0.02) so that heads differ clearly and the logits are far from 0.
    model = BertForSequenceClassification(BertConfig(**CONFIG, attn_implementation="eager"))
    model.eval()
    g = torch.Generator().manual_seed(1)
    input_ids = torch.randint(1, 100, (3, 7), generator=g)
    attention_mask = torch.ones(3, 7, dtype=torch.long)
    attention_mask[0, 5:] = 0
    attention_mask[2, 3:] = 0
    input_ids[attention_mask == 0] = 0
    token_type_ids = torch.zeros(3, 7, dtype=torch.long)
    token_type_ids[1, 4:] = 1
    labels = torch.tensor([2, 0, 1])
    inputs = dict(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)

    head_mask = torch.ones(2, 4, requires_grad=True)
    out = model(**inputs, labels=labels, head_mask=head_mask)
    out.loss.backward()
    raw = head_mask.grad.abs()
    importance = raw / raw.norm(dim=-1, keepdim=True)
    with torch.no_grad():
        logits = model(**inputs).logits
    model.save_pretrained(OUT / "unpruned", safe_serialization=True)

    # Neuron importance: a mask of ones on every intermediate activation, |d loss / d mask|.
    layers = model.bert.encoder.layer
    neuron_mask = torch.ones(len(layers), CONFIG["intermediate_size"], requires_grad=True)
    hooks = [layer.intermediate.register_forward_hook(lambda m, i, o, l=l: o * neuron_mask[l])
             for l, layer in enumerate(layers)]
    model.zero_grad()
    model(**inputs, labels=labels).loss.backward()
    for h in hooks:
        h.remove()
    neuron_importance = neuron_mask.grad.abs()
    model.zero_grad()

    model.prune_heads(PRUNE)
    with torch.no_grad():
        pruned_logits = model(**inputs).logits
    model.save_pretrained(OUT, safe_serialization=True)

    # FFN pruning, by hand (HF has no API for it): keep the other neurons, in order.
    keep = [torch.sort(torch.argsort(neuron_importance[l], stable=True)[FFN_REMOVE:]).values
            for l in range(len(layers))]
    with torch.no_grad():
        for l, layer in enumerate(layers):
            inner, outer = layer.intermediate.dense, layer.output.dense
            new_in = torch.nn.Linear(inner.in_features, len(keep[l]))
            new_in.weight.copy_(inner.weight[keep[l]])
            new_in.bias.copy_(inner.bias[keep[l]])
            new_out = torch.nn.Linear(len(keep[l]), outer.out_features)
            new_out.weight.copy_(outer.weight[:, keep[l]])
            new_out.bias.copy_(outer.bias)
            layer.intermediate.dense, layer.output.dense = new_in, new_out
    model.config.intermediate_size = CONFIG["intermediate_size"] - FFN_REMOVE
    with torch.no_grad():
        ffn_pruned_logits = model(**inputs).logits
    model.save_pretrained(OUT / "ffn_pruned", safe_serialization=True)
    reloaded = BertForSequenceClassification.from_pretrained(OUT / "ffn_pruned").eval()
    with torch.no_grad():
        assert torch.allclose(reloaded(**inputs).logits, ffn_pruned_logits, atol=1e-6)

    tensors = dict(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                   labels=labels, logits=logits, pruned_logits=pruned_logits,
                   head_importance_raw=raw, head_importance=importance,
                   neuron_importance=neuron_importance, ffn_pruned_logits=ffn_pruned_logits)
    fc.save_tensors(OUT / "golden.safetensors", tensors, pruned_heads=PRUNE)
    fc.save_json(OUT / "golden.json", {
        "what": "HF BertForSequenceClassification (eager attention, eval) before/after prune_heads",
        "pruned_heads": {str(k): v for k, v in PRUNE.items()},
        "config": CONFIG,
        "ffn_pruned": f"ffn_pruned/: also the {FFN_REMOVE} least important neurons of every layer",
        "tolerance": "logits 1e-5 absolute (float32); head and neuron importance 1e-4 relative",
    })


if __name__ == "__main__":
    main()
