#!/usr/bin/env python3
"""Golden fixtures for tiny randomly-initialised RoBERTa, XLM-RoBERTa, DistilBERT and ELECTRA
models, and for BERT's multi-label and regression problem types.

Writes, for FAMILY/DIR in roberta/roberta_tiny, xlm-roberta/xlmr_tiny, distilbert/distilbert_tiny,
electra/electra_tiny:
  tests/data/DIR/config.json, model.safetensors     <Family>ForSequenceClassification (3 labels),
                                                    save_pretrained's layout
  tests/data/DIR/<tokenizer files>                  the fast tokenizer's save_pretrained files
                                                    (+ vocab.txt for the WordPiece ones)
  tests/data/DIR/golden.safetensors (+ golden.json) forward of cases a, b; a.grad.* (backward of a)
  tests/data/DIR/token_classification/{config.json, model.safetensors, golden.safetensors}
                                                    <Family>ForTokenClassification (5 labels), same
                                                    body weights; forward + backward of case a
  tests/data/DIR/masked_lm/{config.json, model.safetensors, golden.safetensors}
                                                    <Family>ForMaskedLM, same body weights, decoder
                                                    tied to the word embeddings; forward + backward
                                                    of case a with 30% of its tokens masked
and
  tests/data/problem_types/{multi_label,regression}/{config.json, model.safetensors,
                                                     golden.safetensors, golden.json}
                                                    BertForSequenceClassification with
                                                    problem_type multi_label_classification (4
                                                    labels) / regression (1 label)

Tokenizers: roberta = tests/data/bpe_tiny (byte-level BPE, 1000), xlm-roberta =
tests/data/unigram_tiny (SentencePiece unigram, 1002), distilbert/electra/problem_types = a
WordPiece vocabulary (1000, lower-cased) trained here with tokenizers' BertWordPieceTokenizer on the
first 4000 sentences of examples/data/sst2/train.tsv. Hugging Face's WordPiece trainer is not
deterministic from run to run (docs/tokenizer.md), so the committed
tests/data/distilbert_tiny/vocab.txt is reused when it exists; --retrain-vocab trains it again.

Every model: torch.manual_seed(0), then the constructor (eager attention, initializer_range 0.2
so that the sequence logits depend on the input, see INIT_RANGE), then every LayerNorm
weight/bias and every bias += 0.1 * N(0,1) from torch.Generator().manual_seed(PERTURB_SEED), so
that a LayerNorm or bias loaded wrongly shows; model.eval() (no dropout).

Setup: .venv-torch (tools/setup_torch_cpu.sh) + `.venv-torch/bin/pip install sentencepiece protobuf`.
Run:   nice -n 19 .venv-torch/bin/python tools/gen_family_fixtures.py [--retrain-vocab]
See tools/README.md for the key layout.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fixture_common as fc  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import transformers  # noqa: E402
from safetensors import safe_open  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

SST2 = fc.REPO_ROOT / "examples" / "data" / "sst2"
BPE_DIR = fc.DATA_DIR / "bpe_tiny"
UNIGRAM_DIR = fc.DATA_DIR / "unigram_tiny"
WORDPIECE_VOCAB = fc.DATA_DIR / "distilbert_tiny" / "vocab.txt"
WP_VOCAB_SIZE = 1000
WP_TRAIN_SENTENCES = 4000
MAX_POS = 64
PERTURB_SEED = 1234
PERTURB_SCALE = 0.1
TC_LABEL_SEED = 99
TC_NUM_LABELS = 5
MLM_MASK_SEED = 77
MLM_PROBABILITY = 0.3

# Case a: 3 single SST-2 dev sentences (the rows of tests/data/bert_tiny case a; the longest in
# the middle so rows 0 and 2 carry padding), SST-2 labels. Case b: 2 pairs (bert_tiny case b),
# synthetic labels [2, 1] to exercise class 2. Rows are 0-based after the header.
CASE_A_ROWS = [6, 2, 0]
CASE_B_ROWS = [(1, 113), (4, 18)]
CASE_B_LABELS = [2, 1]

# initializer_range 0.2, not HF's 0.02: with 0.02 a 32-wide model's attention is nearly uniform
# and the CLS vector hardly depends on the input, so the 3 rows' sequence logits differed by only
# 1e-5..5e-5; with 0.2 they differ by 0.1..0.6 and a head or masking bug shows in the logits too.
INIT_RANGE = 0.2
BODY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            hidden_act="gelu", hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
            initializer_range=INIT_RANGE)


def family_specs(vocab_sizes: dict) -> dict:
    """name -> dict(dir, base (attribute of the body), classes, config kwargs)."""
    T = transformers
    return {
        "roberta": dict(
            dir="roberta_tiny", base="roberta", seq=T.RobertaForSequenceClassification,
            tc=T.RobertaForTokenClassification, mlm=T.RobertaForMaskedLM, cfg=T.RobertaConfig,
            tok_cls=T.RobertaTokenizerFast,
            config=dict(vocab_size=vocab_sizes["roberta"], **BODY, max_position_embeddings=MAX_POS + 2,
                        type_vocab_size=1, layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0,
                        eos_token_id=2, num_labels=3),
            token_types=True),
        "xlm-roberta": dict(
            dir="xlmr_tiny", base="roberta", seq=T.XLMRobertaForSequenceClassification,
            tc=T.XLMRobertaForTokenClassification, mlm=T.XLMRobertaForMaskedLM, cfg=T.XLMRobertaConfig,
            tok_cls=T.XLMRobertaTokenizerFast,
            config=dict(vocab_size=vocab_sizes["xlm-roberta"], **BODY, max_position_embeddings=MAX_POS + 2,
                        type_vocab_size=1, layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0,
                        eos_token_id=2, num_labels=3),
            token_types=True),
        "distilbert": dict(
            dir="distilbert_tiny", base="distilbert", seq=T.DistilBertForSequenceClassification,
            tc=T.DistilBertForTokenClassification, mlm=T.DistilBertForMaskedLM, cfg=T.DistilBertConfig,
            tok_cls=T.DistilBertTokenizerFast,
            config=dict(vocab_size=vocab_sizes["wordpiece"], max_position_embeddings=MAX_POS,
                        sinusoidal_pos_embds=False, n_layers=2, n_heads=4, dim=32, hidden_dim=64,
                        activation="gelu", dropout=0.1, attention_dropout=0.1, seq_classif_dropout=0.2,
                        qa_dropout=0.1, initializer_range=INIT_RANGE, pad_token_id=0, num_labels=3),
            token_types=False),
        "electra": dict(
            dir="electra_tiny", base="electra", seq=T.ElectraForSequenceClassification,
            tc=T.ElectraForTokenClassification, mlm=T.ElectraForMaskedLM, cfg=T.ElectraConfig,
            tok_cls=T.ElectraTokenizerFast,
            config=dict(vocab_size=vocab_sizes["wordpiece"], embedding_size=16, **BODY,
                        max_position_embeddings=MAX_POS, type_vocab_size=2, layer_norm_eps=1e-12,
                        pad_token_id=0, num_labels=3),
            token_types=True),
    }


# ----------------------------------------------------------------------------------------------
# tokenizers

def read_sentences(path: Path, n: int | None = None) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].split("\t")[0] == "sentence", lines[0]
    out = [line.split("\t")[0] for line in lines[1:] if line]
    return out if n is None else out[:n]


def wordpiece_vocab(retrain: bool) -> tuple[str, str]:
    """(vocab.txt text, how it was made)."""
    how = (f"tokenizers.BertWordPieceTokenizer(lowercase=True).train_from_iterator(first "
           f"{WP_TRAIN_SENTENCES} sentences of examples/data/sst2/train.tsv, vocab_size={WP_VOCAB_SIZE}, "
           f"min_frequency=2, special_tokens=[PAD] [UNK] [CLS] [SEP] [MASK], limit_alphabet=1000, "
           f"wordpieces_prefix='##')")
    if WORDPIECE_VOCAB.is_file() and not retrain:
        print(f"reusing {WORDPIECE_VOCAB.relative_to(fc.REPO_ROOT)} (--retrain-vocab trains it again)")
        return WORDPIECE_VOCAB.read_text(encoding="utf-8"), how
    from tokenizers import BertWordPieceTokenizer

    wp = BertWordPieceTokenizer(lowercase=True)
    wp.train_from_iterator(read_sentences(SST2 / "train.tsv", WP_TRAIN_SENTENCES), vocab_size=WP_VOCAB_SIZE,
                           min_frequency=2, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
                           limit_alphabet=1000, wordpieces_prefix="##", show_progress=False)
    with tempfile.TemporaryDirectory(prefix="ember-wp-") as tmp:
        wp.save_model(tmp)
        text = (Path(tmp) / "vocab.txt").read_text(encoding="utf-8")
    print("trained a new WordPiece vocabulary")
    return text, how


def load_tokenizers(vocab_text: str) -> dict:
    """The fast tokenizers. transformers 5's WordPiece tokenizers take the vocabulary as `vocab`
    (a dict); `vocab_file=` is silently ignored there (a 5-token vocabulary of the specials)."""
    from tokenizers import Tokenizer

    T = transformers
    wp_vocab = {t: i for i, t in enumerate(vocab_text.splitlines())}
    assert len(wp_vocab) == WP_VOCAB_SIZE
    toks = {
        "roberta": T.RobertaTokenizerFast(tokenizer_object=Tokenizer.from_file(str(BPE_DIR / "tokenizer.json")),
                                          mask_token=T.AddedToken("<mask>", lstrip=True, rstrip=False)),
        "xlm-roberta": T.XLMRobertaTokenizerFast(
            tokenizer_object=Tokenizer.from_file(str(UNIGRAM_DIR / "tokenizer.json")),
            bos_token="<s>", eos_token="</s>", sep_token="</s>", cls_token="<s>", unk_token="<unk>",
            pad_token="<pad>", mask_token=T.AddedToken("<mask>", lstrip=True, rstrip=False, normalized=False,
                                                       special=True)),
        "distilbert": T.DistilBertTokenizerFast(vocab=dict(wp_vocab), do_lower_case=True),
        "electra": T.ElectraTokenizerFast(vocab=dict(wp_vocab), do_lower_case=True),
        "bert": T.BertTokenizerFast(vocab=dict(wp_vocab), do_lower_case=True),
    }
    sizes = {"roberta": 1000, "xlm-roberta": 1002, "distilbert": WP_VOCAB_SIZE, "electra": WP_VOCAB_SIZE,
             "bert": WP_VOCAB_SIZE}
    for name, tok in toks.items():
        assert tok.is_fast, name
        assert len(tok) == sizes[name], (name, len(tok))
    return toks


def reference_ids(name: str, d: Path, texts, pairs=None) -> list[list[int]]:
    """Ids straight from the `tokenizers` library, not through transformers: the saved
    tokenizer.json for the BPE/Unigram ones, BertWordPieceTokenizer(vocab.txt) for WordPiece."""
    from tokenizers import BertWordPieceTokenizer, Tokenizer

    if (d / "vocab.txt").is_file():
        t = BertWordPieceTokenizer(str(d / "vocab.txt"), lowercase=True)
    else:
        t = Tokenizer.from_file(str(d / "tokenizer.json"))
    encs = t.encode_batch(list(zip(texts, pairs)) if pairs is not None else list(texts))
    return [e.ids for e in encs]


# ----------------------------------------------------------------------------------------------
# models

def perturb(model, only_prefix_not: str | None = None, seed: int = PERTURB_SEED) -> list[str]:
    """Every LayerNorm weight/bias and every bias += PERTURB_SCALE * N(0,1), in
    named_parameters order, from one seeded generator. Returns the names changed."""
    ln = set()
    for mn, m in model.named_modules():
        if isinstance(m, torch.nn.LayerNorm):
            ln |= {f"{mn}.weight", f"{mn}.bias"}
    g = torch.Generator().manual_seed(seed)
    done = []
    with torch.no_grad():
        for n, p in model.named_parameters():
            if only_prefix_not is not None and n.startswith(only_prefix_not + "."):
                continue
            if n in ln or n.endswith(".bias") or n == "bias":
                p.add_(PERTURB_SCALE * torch.randn(p.shape, generator=g, dtype=p.dtype))
                done.append(n)
    return done


def build(cls, cfg_cls, cfg_kwargs: dict):
    torch.manual_seed(0)
    cfg = cfg_cls(**cfg_kwargs, attn_implementation="eager")
    model = cls(cfg)
    assert model.config._attn_implementation == "eager", model.config._attn_implementation
    return model


def rewrite_model_file(d: Path, description: str) -> list[str]:
    """Re-save save_pretrained's model.safetensors with provenance metadata (format=pt kept, which
    from_pretrained requires) and the canonical header. Returns its keys in file order."""
    path = d / "model.safetensors"
    with safe_open(str(path), "pt") as f:
        meta = f.metadata() or {}
    assert meta.get("format") == "pt", meta
    tensors = load_file(str(path))
    fc.save_tensors(path, tensors, format="pt", description=description)
    return list(tensors)


def clean_dir(d: Path, keep: set[str]) -> None:
    for p in sorted(d.iterdir()):
        if p.name not in keep:
            print(f"removing {p}")
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()


def link_if_same(d: Path, name: str, src_dir: Path) -> bool:
    """Replace d/name by a relative symlink to src_dir/name when the bytes are identical (keeps
    the 386 KB unigram tokenizer.json from being committed twice)."""
    p, src = d / name, src_dir / name
    if not (p.is_file() and src.is_file()) or p.is_symlink():
        return p.is_symlink()
    if p.read_bytes() != src.read_bytes():
        return False
    p.unlink()
    os.symlink(os.path.relpath(src, d), p)
    return True


# ----------------------------------------------------------------------------------------------
# inputs

def encode(tok, texts, pairs=None, token_types=True):
    kw = dict(padding=True, return_tensors="pt", return_special_tokens_mask=True)
    if token_types:
        kw["return_token_type_ids"] = True
    enc = tok(texts, pairs, **kw) if pairs is not None else tok(texts, **kw)
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if token_types else [])
    out = {n: enc[n].to(torch.int64) for n in names}
    assert out["input_ids"].shape[1] <= MAX_POS
    return out, enc["special_tokens_mask"].to(torch.int64)


def build_cases(tok, dev, token_types: bool) -> dict:
    a_rows = [dev[i] for i in CASE_A_ROWS]
    b_rows = [(dev[i], dev[j]) for i, j in CASE_B_ROWS]
    cases = {}
    enc, special = encode(tok, [s for _, s, _ in a_rows], token_types=token_types)
    cases["a"] = dict(enc=enc, special=special, labels=torch.tensor([y for _, _, y in a_rows], dtype=torch.int64),
                      examples=[dict(dev_row=i, text=s, label=y) for i, s, y in a_rows])
    enc, special = encode(tok, [p[0][1] for p in b_rows], [p[1][1] for p in b_rows], token_types=token_types)
    cases["b"] = dict(enc=enc, special=special, labels=torch.tensor(CASE_B_LABELS, dtype=torch.int64),
                      examples=[dict(dev_rows=[p[0][0], p[1][0]], text=p[0][1], text_pair=p[1][1], label=lab)
                                for p, lab in zip(b_rows, CASE_B_LABELS)])
    for c in cases.values():
        lens = c["enc"]["attention_mask"].sum(1).tolist()
        assert len(set(lens)) == len(lens), lens  # different lengths, so padding is exercised
        for ex, ids, m in zip(c["examples"], c["enc"]["input_ids"], c["enc"]["attention_mask"]):
            ex["input_ids"] = ids[m.bool()].tolist()
            ex["tokens"] = tok.convert_ids_to_tokens(ex["input_ids"])
        if "token_type_ids" in c["enc"]:
            for ex, tt, m in zip(c["examples"], c["enc"]["token_type_ids"], c["enc"]["attention_mask"]):
                ex["token_type_ids"] = tt[m.bool()].tolist()
        c["shape"] = list(c["enc"]["input_ids"].shape)
    return cases


def grads(model, prefix: str) -> dict:
    out = {}
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        out[f"{prefix}grad.{name}"] = p.grad.detach().clone()
    return out


# ----------------------------------------------------------------------------------------------
# families

def forward_case(model, base: str, k: str, case: dict, with_grad: bool) -> dict:
    enc, labels = case["enc"], case["labels"]
    out = {f"{k}.{n}": v for n, v in enc.items()}
    out[f"{k}.labels"] = labels
    model.zero_grad(set_to_none=True)
    with torch.set_grad_enabled(with_grad):
        full = model(**enc, labels=labels, output_hidden_states=True)
        body = getattr(model, base)(**enc)
        assert torch.equal(body[0], full.hidden_states[-1]), k
        loss_manual = F.cross_entropy(full.logits, labels)
        assert torch.allclose(full.loss, loss_manual, rtol=0, atol=1e-6), (full.loss, loss_manual)
        if with_grad:
            full.loss.backward()
    out[f"{k}.last_hidden_state"] = full.hidden_states[-1]
    # Embeddings output (after LayerNorm; ELECTRA: after embeddings_project), to localise a
    # mismatch; the per-layer ones are left out to keep the fixture small.
    out[f"{k}.hidden_states.0"] = full.hidden_states[0]
    out[f"{k}.logits"] = full.logits
    out[f"{k}.loss"] = full.loss.reshape(1)
    if with_grad:
        out.update(grads(model, f"{k}."))
        model.zero_grad(set_to_none=True)
    return {n: v.detach().clone() for n, v in out.items()}


def check_reload(cls, d: Path, model, enc: dict) -> None:
    """from_pretrained(d) gives the same logits. Not bit for bit: the reloaded tensors sit at
    unaligned (mmapped) addresses, and the CPU GEMM then rounds differently (seen: 6e-8)."""
    back = cls.from_pretrained(str(d), attn_implementation="eager")
    back.eval()
    ref = dict(model.state_dict())
    assert all(torch.equal(v, ref[k]) for k, v in back.state_dict().items()), d
    with torch.no_grad():
        assert torch.allclose(back(**enc).logits, model(**enc).logits, rtol=0, atol=1e-6), d


def token_labels(case: dict, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    ids = case["enc"]["input_ids"]
    lab = torch.randint(0, TC_NUM_LABELS, ids.shape, generator=g, dtype=torch.int64)
    ignore = case["special"].bool() | ~case["enc"]["attention_mask"].bool()
    return lab.masked_fill(ignore, -100)


def gen_family(name: str, spec: dict, tok, dev, vocab_how: str, wordpiece_vocab_text: str | None) -> dict:
    d = fc.DATA_DIR / spec["dir"]
    d.mkdir(parents=True, exist_ok=True)
    cfg_kwargs = spec["config"]
    model = build(spec["seq"], spec["cfg"], cfg_kwargs)
    perturbed = perturb(model)
    model.eval()
    base = spec["base"]
    assert hasattr(model, base), (name, base)
    param_names = [n for n, _ in model.named_parameters()]
    state_keys = list(model.state_dict().keys())
    print(f"{name}: {len(param_names)} parameters; state_dict keys:\n  " + "\n  ".join(state_keys))

    # HF model dir: config.json + model.safetensors + the tokenizer's files.
    tc_dir = d / "token_classification"
    model.save_pretrained(str(d))
    tok_files = sorted(tok.save_pretrained(str(d)))
    tok_files = sorted({Path(f).name for f in tok_files})
    if wordpiece_vocab_text is not None:
        (d / "vocab.txt").write_text(wordpiece_vocab_text, encoding="utf-8")
        tok_files = sorted(set(tok_files) | {"vocab.txt"})
    file_keys = rewrite_model_file(d, f"tiny {spec['seq'].__name__} (tests/data/{spec['dir']}), "
                                      "see golden.json / tools/README.md")
    keep = {"config.json", "model.safetensors", "golden.safetensors", "golden.json", "token_classification",
            "masked_lm"} | set(tok_files)
    clean_dir(d, keep)
    linked = []
    src_dir = {"roberta": BPE_DIR, "xlm-roberta": UNIGRAM_DIR}.get(name)
    if src_dir is not None:
        linked = [f for f in tok_files if link_if_same(d, f, src_dir)]

    cases = build_cases(tok, dev, spec["token_types"])
    if name in ("roberta", "xlm-roberta"):
        for c in cases.values():
            assert int(c["enc"]["token_type_ids"].abs().sum()) == 0
    # The saved dir is complete: the tokenizer it holds gives the same ids.
    tok_back = transformers.AutoTokenizer.from_pretrained(str(d))
    assert type(tok_back).__name__.startswith(type(tok).__name__.replace("Fast", "")), (type(tok_back), type(tok))
    assert build_cases(tok_back, dev, spec["token_types"])["b"]["examples"] == cases["b"]["examples"]
    for c in cases.values():
        ex = c["examples"]
        ref = reference_ids(name, d, [e["text"] for e in ex], [e["text_pair"] for e in ex] if "text_pair" in ex[0] else None)
        assert ref == [e["input_ids"] for e in ex], (name, ref)
    check_reload(spec["seq"], d, model, cases["a"]["enc"])

    tensors = {}
    for k in ("a", "b"):
        tensors.update(forward_case(model, base, k, cases[k], with_grad=(k == "a")))
    assert all(v.dtype in (torch.float32, torch.int64) for v in tensors.values())
    assert not tensors["a.grad." + param_names[0]].isnan().any()
    fc.save_tensors(d / "golden.safetensors", tensors,
                    description=f"tiny {spec['seq'].__name__} (tests/data/{spec['dir']}) eval-mode forward "
                                "of cases a, b; a.grad.* = d(mean CE loss of case a)/d(param)",
                    attn_implementation=model.config._attn_implementation)

    # Token classification: same body, a freshly seeded 5-way classifier.
    tc, tc_perturbed, tc_file_keys = head_model(spec["tc"], spec, {**cfg_kwargs, "num_labels": TC_NUM_LABELS},
                                                model, PERTURB_SEED + 1, tc_dir)
    tc_names = [n for n, _ in tc.named_parameters()]
    check_reload(spec["tc"], tc_dir, tc, cases["a"]["enc"])
    ca = cases["a"]
    labels = token_labels(ca, TC_LABEL_SEED)
    tt = {f"a.{n}": v for n, v in ca["enc"].items()}
    tt["a.labels"] = labels
    tc.zero_grad(set_to_none=True)
    out = tc(**ca["enc"], labels=labels)
    manual = F.cross_entropy(out.logits.reshape(-1, TC_NUM_LABELS), labels.reshape(-1), ignore_index=-100)
    assert torch.allclose(out.loss, manual, rtol=0, atol=1e-6)
    out.loss.backward()
    tt["a.logits"] = out.logits.detach()
    tt["a.loss"] = out.loss.detach().reshape(1)
    tt.update(grads(tc, "a."))
    fc.save_tensors(tc_dir / "golden.safetensors", tt,
                    description=f"tiny {spec['tc'].__name__}: eval-mode forward + backward of case a "
                                "(inputs = ../golden.safetensors case a); labels -100 on special tokens and "
                                f"padding, else randint(0,{TC_NUM_LABELS}) from torch.Generator().manual_seed({TC_LABEL_SEED}); "
                                "loss = mean CE over labels != -100",
                    attn_implementation=tc.config._attn_implementation)

    mlm_json = gen_masked_lm(spec, model, cases["a"], tok, d / "masked_lm")

    fc.save_json(d / "golden.json", {
        "family": name,
        "model_class": spec["seq"].__name__,
        "base_attribute": base,
        "config": cfg_kwargs,
        "attn_implementation": model.config._attn_implementation,
        "seed": f"torch.manual_seed(0) then {spec['seq'].__name__}({spec['cfg'].__name__}(**config, attn_implementation='eager'))",
        "perturbation": f"then += {PERTURB_SCALE} * torch.randn(shape, generator=torch.Generator().manual_seed({PERTURB_SEED})) "
                        "for each of perturbed_parameters in named_parameters order; then model.eval()",
        "perturbed_parameters": perturbed,
        "tokenizer": {"class": type(tok).__name__, "files": tok_files, "symlinked_to_source": linked,
                      "source": {"roberta": "tests/data/bpe_tiny", "xlm-roberta": "tests/data/unigram_tiny"}.get(name, vocab_how),
                      "vocab_size": len(tok)},
        "parameter_names": param_names,
        "parameter_shapes": {n: list(p.shape) for n, p in model.named_parameters()},
        "state_dict_keys": state_keys,
        "model_safetensors_keys": sorted(file_keys),
        "cases": {k: {"shape": c["shape"], "labels": c["labels"].tolist(), "examples": c["examples"]}
                  for k, c in cases.items()},
        "token_classification": {
            "model_class": spec["tc"].__name__,
            "config": {**cfg_kwargs, "num_labels": TC_NUM_LABELS},
            "seed": f"torch.manual_seed(0) then {spec['tc'].__name__}(config); load_state_dict(body of the sequence "
                    f"model, strict=False) (every '{base}.*' tensor); classifier bias += {PERTURB_SCALE} * N(0,1) "
                    f"from Generator().manual_seed({PERTURB_SEED + 1})",
            "perturbed_parameters": tc_perturbed,
            "labels": labels.tolist(),
            "parameter_names": tc_names,
            "model_safetensors_keys": sorted(tc_file_keys),
        },
        "masked_lm": mlm_json,
    })
    return {"dir": spec["dir"], "params": param_names, "tc_params": tc_names}


def head_model(cls, spec: dict, cfg_kwargs: dict, model, seed: int, out: Path):
    """cls(config) with `model`'s body, its head's LayerNorms and biases perturbed from `seed`,
    eval mode, saved into `out` (save_pretrained's config.json + model.safetensors). Returns the
    model, the perturbed names and the saved file's keys."""
    base = spec["base"]
    head = build(cls, spec["cfg"], cfg_kwargs)
    body = {n: v for n, v in model.state_dict().items() if n.startswith(base + ".")}
    missing, unexpected = head.load_state_dict(body, strict=False)
    assert not unexpected, unexpected
    assert all(not m.startswith(base + ".") for m in missing), missing
    perturbed = perturb(head, only_prefix_not=base, seed=seed)
    head.eval()
    out.mkdir(parents=True, exist_ok=True)
    head.save_pretrained(str(out))
    file_keys = rewrite_model_file(out, f"tiny {cls.__name__} (tests/data/{spec['dir']}/{out.name}), "
                                        "body = ../model.safetensors")
    clean_dir(out, {"config.json", "model.safetensors", "golden.safetensors"})
    return head, perturbed, file_keys


def gen_masked_lm(spec: dict, model, case: dict, tok, out: Path) -> dict:
    """<Family>ForMaskedLM with the sequence model's body and a freshly seeded, perturbed head
    (the decoder tied to the word embeddings) into `out`; golden forward + backward of case a
    with MLM_PROBABILITY of its ordinary tokens replaced by the mask token."""
    base = spec["base"]
    mlm, perturbed, file_keys = head_model(spec["mlm"], spec, spec["config"], model, PERTURB_SEED + 2, out)
    assert mlm.get_output_embeddings().weight is getattr(mlm, base).embeddings.word_embeddings.weight  # tied
    names = [n for n, _ in mlm.named_parameters()]

    enc = dict(case["enc"])
    g = torch.Generator().manual_seed(MLM_MASK_SEED)
    ordinary = ~case["special"].bool() & enc["attention_mask"].bool()
    chosen = (torch.rand(enc["input_ids"].shape, generator=g) < MLM_PROBABILITY) & ordinary
    assert int(chosen.sum()) >= 4, chosen
    labels = enc["input_ids"].masked_fill(~chosen, -100)
    enc["input_ids"] = enc["input_ids"].masked_fill(chosen, tok.mask_token_id)
    check_reload(spec["mlm"], out, mlm, enc)
    mlm.zero_grad(set_to_none=True)
    res = mlm(**enc, labels=labels)
    vocab = res.logits.shape[-1]
    manual = F.cross_entropy(res.logits.reshape(-1, vocab), labels.reshape(-1), ignore_index=-100)
    assert torch.allclose(res.loss, manual, rtol=0, atol=1e-6)
    res.loss.backward()
    positions = torch.nonzero(labels.reshape(-1) != -100).reshape(-1)
    t = {f"a.{n}": v for n, v in enc.items()}
    t["a.labels"] = labels
    t["a.masked_positions"] = positions
    t["a.masked_logits"] = res.logits.detach().reshape(-1, vocab)[positions]
    t["a.loss"] = res.loss.detach().reshape(1)
    # The tied matrix's gradient under the encoder's name: XLMRobertaForMaskedLM registers its
    # lm_head before the encoder, so named_parameters() calls the tie lm_head.decoder.weight.
    embedding = getattr(mlm, base).embeddings.word_embeddings.weight
    tied_name = next(n for n, p in mlm.named_parameters() if p is embedding)
    g = grads(mlm, "a.")
    g[f"a.grad.{base}.embeddings.word_embeddings.weight"] = g.pop(f"a.grad.{tied_name}")
    t.update(g)
    fc.save_tensors(out / "golden.safetensors", t,
                    description=f"tiny {spec['mlm'].__name__}: eval-mode forward + backward of case a "
                                "(../golden.safetensors case a) with the chosen tokens replaced by the mask "
                                "token; labels = the original id there, else -100; masked_logits = HF's logits "
                                "at masked_positions (flat b * seq + s); loss = mean CE over labels != -100",
                    attn_implementation=mlm.config._attn_implementation)
    return {
        "model_class": spec["mlm"].__name__,
        "seed": f"torch.manual_seed(0) then {spec['mlm'].__name__}(config); load_state_dict(body of the sequence "
                f"model, strict=False); head LayerNorm and biases += {PERTURB_SCALE} * N(0,1) from "
                f"Generator().manual_seed({PERTURB_SEED + 2})",
        "perturbed_parameters": perturbed,
        "masking": f"each non-special, non-padding token of case a with probability {MLM_PROBABILITY} "
                   f"(torch.rand from Generator().manual_seed({MLM_MASK_SEED})) -> {tok.mask_token} "
                   f"(id {tok.mask_token_id})",
        "labels": labels.tolist(),
        "parameter_names": names,
        "model_safetensors_keys": sorted(file_keys),
    }


# ----------------------------------------------------------------------------------------------
# BERT problem types

def gen_problem_types(tok, dev, vocab_size: int) -> None:
    root = fc.DATA_DIR / "problem_types"
    cfg_base = dict(vocab_size=vocab_size, **BODY, max_position_embeddings=MAX_POS, type_vocab_size=2,
                    layer_norm_eps=1e-12, pad_token_id=0)
    variants = {
        "multi_label": dict(num_labels=4, problem_type="multi_label_classification"),
        "regression": dict(num_labels=1, problem_type="regression"),
    }
    rows = [dev[i] for i in CASE_A_ROWS]
    enc, _ = encode(tok, [s for _, s, _ in rows], token_types=True)
    lens = enc["attention_mask"].sum(1).tolist()
    assert len(set(lens)) == len(lens), lens
    examples = [dict(dev_row=i, text=s, input_ids=ids[m.bool()].tolist(),
                     tokens=tok.convert_ids_to_tokens(ids[m.bool()].tolist()))
                for (i, s, _), ids, m in zip(rows, enc["input_ids"], enc["attention_mask"])]
    for vi, (vname, extra) in enumerate(variants.items()):
        d = root / vname
        d.mkdir(parents=True, exist_ok=True)
        cfg_kwargs = {**cfg_base, **extra}
        model = build(transformers.BertForSequenceClassification, transformers.BertConfig, cfg_kwargs)
        perturbed = perturb(model)
        model.eval()
        assert model.config.problem_type == extra["problem_type"]
        g = torch.Generator().manual_seed(7 + vi)
        B = enc["input_ids"].shape[0]
        if vname == "multi_label":
            labels = torch.randint(0, 2, (B, 4), generator=g).to(torch.float32)
            label_rule = f"randint(0, 2, [{B}, 4]) as float32 from Generator().manual_seed({7 + vi})"
        else:
            labels = (torch.rand(B, generator=g) * 5.0).to(torch.float32)
            label_rule = f"5 * rand([{B}]) from Generator().manual_seed({7 + vi})"
        model.save_pretrained(str(d))
        file_keys = rewrite_model_file(d, f"tiny BertForSequenceClassification, problem_type {extra['problem_type']}")
        clean_dir(d, {"config.json", "model.safetensors", "golden.safetensors", "golden.json"})
        check_reload(transformers.BertForSequenceClassification, d, model, enc)
        model.zero_grad(set_to_none=True)
        out = model(**enc, labels=labels)
        if vname == "multi_label":
            manual = F.binary_cross_entropy_with_logits(out.logits, labels)
        else:
            manual = F.mse_loss(out.logits.squeeze(), labels.squeeze())
        assert torch.allclose(out.loss, manual, rtol=0, atol=1e-6), (out.loss, manual)
        out.loss.backward()
        t = {f"a.{n}": v for n, v in enc.items()}
        t["a.labels"] = labels
        t["a.logits"] = out.logits.detach()
        t["a.loss"] = out.loss.detach().reshape(1)
        t.update(grads(model, "a."))
        loss_rule = ("BCEWithLogitsLoss (mean over batch x labels)" if vname == "multi_label"
                     else "MSELoss(logits.squeeze(), labels.squeeze()) (mean over batch)")
        fc.save_tensors(d / "golden.safetensors", t,
                        description=f"tiny BertForSequenceClassification, problem_type {extra['problem_type']}: "
                                    f"eval-mode forward + backward of case a; loss = {loss_rule}",
                        attn_implementation=model.config._attn_implementation)
        fc.save_json(d / "golden.json", {
            "model_class": "BertForSequenceClassification",
            "config": cfg_kwargs,
            "attn_implementation": model.config._attn_implementation,
            "seed": "torch.manual_seed(0) then BertForSequenceClassification(BertConfig(**config, attn_implementation='eager'))",
            "perturbation": f"then += {PERTURB_SCALE} * torch.randn(shape, generator=torch.Generator().manual_seed({PERTURB_SEED})) "
                            "for each of perturbed_parameters in named_parameters order; then model.eval()",
            "perturbed_parameters": perturbed,
            "tokenizer": "BertTokenizerFast(vocab_file=tests/data/distilbert_tiny/vocab.txt, do_lower_case=True)",
            "loss": loss_rule,
            "labels": labels.tolist(),
            "label_rule": label_rule,
            "parameter_names": [n for n, _ in model.named_parameters()],
            "model_safetensors_keys": sorted(file_keys),
            "case_a": {"shape": list(enc["input_ids"].shape), "examples": examples},
        })


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--retrain-vocab", action="store_true",
                    help="train the WordPiece vocab.txt again instead of reusing the committed one")
    ap.add_argument("--only", nargs="*", help="families to write (default: all, and problem_types)")
    args = ap.parse_args()
    if int(transformers.__version__.split(".")[0]) < 5:
        raise SystemExit(f"needs transformers 5 (.venv-torch, tools/setup_torch_cpu.sh), not {transformers.__version__}: "
                         "4.x tokenizers ignore vocab=, and the fixtures record 5.x behaviour")
    fc.setup_torch()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()

    vocab_text, vocab_how = wordpiece_vocab(args.retrain_vocab)
    toks = load_tokenizers(vocab_text)
    sizes = {"roberta": len(toks["roberta"]), "xlm-roberta": len(toks["xlm-roberta"]),
             "wordpiece": len(toks["distilbert"])}
    assert sizes["wordpiece"] == len(toks["electra"]) == len(toks["bert"])
    dev = fc.read_sst2("dev")
    specs = family_specs(sizes)
    for name, spec in specs.items():
        if args.only and name not in args.only:
            continue
        wp = vocab_text if name in ("distilbert", "electra") else None
        gen_family(name, spec, toks[name], dev, vocab_how, wp)
    if not args.only or "problem_types" in args.only:
        gen_problem_types(toks["bert"], dev, sizes["wordpiece"])
    print("vocab.txt sha256:", hashlib.sha256(vocab_text.encode()).hexdigest())


if __name__ == "__main__":
    main()
