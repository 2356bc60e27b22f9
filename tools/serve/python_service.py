#!/usr/bin/env python3
"""The Python inference service a user would deploy instead of ember-serve: FastAPI + uvicorn +
a Hugging Face transformers pipeline on PyTorch (CPU). It is the rival in scripts/bench_serve.sh.

Written the way a typical user writes it, neither tuned to lose nor to win:
  * one uvicorn worker (one process), FastAPI's default thread pool;
  * plain `def` endpoints, so FastAPI runs each request in its thread pool; each calls
    `pipeline("text-classification", model=DIR, top_k=None)` directly on that request's texts —
    no cross-request batching, no lock, the pipeline's default batch_size (1: a list of K
    texts runs as K forward passes; --pipeline-batch-size B passes batch_size=B instead);
  * torch.set_num_threads(--threads) and nothing else set (concurrent requests share those
    intra-op threads through PyTorch's own pool, as they do in a default deployment);
  * pydantic request models, JSON responses through FastAPI's default encoder;
  * uvicorn's access log on unless --no-access-log (bench_serve.sh turns it off; ember-serve
    does not log each request either).

Same HTTP API as ember-serve (docs of issue #17):
  POST /predict  {"inputs": "text" | ["t1", ...] | [["a", "b"], ...], "top_k": n, "raw_scores": false}
                 -> [{"label": "1", "score": 0.98}, ...] for one string (sorted by score, softmax
                 probabilities; raw_scores: logits), a list of such lists for a list
  POST /embed    {"inputs": "text" | ["t1", ...], "normalize": true}  -> [[f, ...], ...]
                 (sentence-transformers: mean pooling over the attention mask, optional L2 norm)
  GET /health -> {"status": "ok"};  GET /info -> model_id, labels, max_input_length, limits
  "truncate": true (default) cuts inputs to --max-length tokens; false refuses longer ones (422).
  Errors: {"error": "...", "error_type": "..."} with ember-serve's types: 400 InvalidJson /
  Unsupported (a task this model lacks), 413 PayloadTooLarge (more than --max-client-batch-size
  inputs), 422 Validation (wrong type, missing field, top_k outside [1, labels]) / Empty, 404
  NotFound, 405 MethodNotAllowed. Not implemented here: /fill-mask, /metrics, 503 back-pressure
  (FastAPI has no queue limit; requests wait for the thread pool), body and text size limits.

The model directory decides the task (--task auto): a *ForSequenceClassification model serves
/predict; any other BERT (e.g. all-MiniLM-L6-v2) serves /embed through
sentence_transformers.SentenceTransformer(DIR). --embed-model DIR adds /embed next to /predict.

  .venv-torch/bin/python tools/serve/python_service.py --model DIR --threads 2 --port 8081
"""
import argparse
import json
import os
import sys
from typing import List, Optional, Tuple, Union

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import DEFAULT_CLASSIFIER, check_model_dir, die

TOOL = "python_service"


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_CLASSIFIER, help="HF model directory (default %(default)s)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8081)
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default %(default)s)")
    ap.add_argument("--task", choices=["auto", "text-classification", "embed"], default="auto",
                    help="auto: text-classification if config.json's architectures name a "
                         "*ForSequenceClassification, else embed")
    ap.add_argument("--embed-model", help="also serve /embed with this sentence-transformers directory")
    ap.add_argument("--max-client-batch-size", "--max-inputs", dest="max_inputs", type=int, default=64,
                    help="most texts per request; more is a 413 (default %(default)s, as ember-serve)")
    ap.add_argument("--max-length", type=int, default=512,
                    help="tokens per input; longer inputs are truncated (default %(default)s, "
                         "capped at the model's max_position_embeddings)")
    ap.add_argument("--pipeline-batch-size", type=int, default=0,
                    help="batch_size passed to the pipeline call (default 0: not passed, the "
                         "pipeline's default of one text per forward pass)")
    ap.add_argument("--no-access-log", action="store_true", help="turn uvicorn's access log off")
    ap.add_argument("--log-level", default="info")
    a = ap.parse_args(argv)
    if a.threads < 1:
        die(TOOL, "--threads must be >= 1", 2)
    if a.max_inputs < 1 or a.max_length < 3:
        die(TOOL, "--max-inputs must be >= 1 and --max-length >= 3", 2)
    return a


def build_app(args):
    import torch
    import transformers
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel, StrictBool, StrictInt, StrictStr
    from starlette.exceptions import HTTPException as StarletteHTTPException

    torch.set_num_threads(args.threads)
    check_model_dir(TOOL, args.model)
    with open(os.path.join(args.model, "config.json")) as f:
        config = json.load(f)
    task = args.task
    if task == "auto":
        archs = config.get("architectures") or []
        task = "text-classification" if any(a.endswith("ForSequenceClassification") for a in archs) else "embed"
    max_length = min(args.max_length, int(config.get("max_position_embeddings", 512)))

    classifier = None
    labels = []
    if task == "text-classification":
        from transformers import pipeline
        classifier = pipeline("text-classification", model=args.model, top_k=None, device="cpu")
        id2label = classifier.model.config.id2label
        labels = [id2label[i] for i in sorted(id2label)]
    embed_dir = args.model if task == "embed" else args.embed_model
    embedder = embedder_raw = None
    if embed_dir:
        check_model_dir(TOOL, embed_dir)
        from sentence_transformers import SentenceTransformer
        embedder = SentenceTransformer(embed_dir, device="cpu")
        # all-MiniLM-L6-v2's modules.json ends in a Normalize module, so encode() normalizes even
        # with normalize_embeddings=False; "normalize": false needs the pipeline without it.
        kept = [m for m in embedder if type(m).__name__ != "Normalize"]
        embedder_raw = embedder if len(kept) == len(embedder) else SentenceTransformer(modules=kept, device="cpu")

    app = FastAPI(title="python_service (transformers pipeline)", docs_url=None, redoc_url=None)

    def error(status, error_type, msg, headers=None):
        return JSONResponse(status_code=status, content={"error": msg, "error_type": error_type},
                            headers=headers)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError):
        errs = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errs):
            return error(400, "InvalidJson", "request body is not valid JSON")
        e = errs[0] if errs else {}
        where = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
        return error(422, "Validation", f"{where or 'body'}: {e.get('msg', 'invalid request')}")

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException):
        kinds = {400: "InvalidJson", 404: "NotFound", 405: "MethodNotAllowed", 413: "PayloadTooLarge"}
        return error(exc.status_code, kinds.get(exc.status_code, "HttpError"), str(exc.detail),
                     headers=getattr(exc, "headers", None))

    class PredictRequest(BaseModel):
        inputs: Union[StrictStr, List[StrictStr], List[Tuple[StrictStr, StrictStr]]]
        top_k: Optional[StrictInt] = None
        raw_scores: StrictBool = False
        truncate: StrictBool = True

    class EmbedRequest(BaseModel):
        inputs: Union[StrictStr, List[StrictStr]]
        normalize: StrictBool = True
        truncate: StrictBool = True

    def check_inputs(texts, truncate, tokenizer, limit):
        if len(texts) == 0:
            return error(422, "Empty", "inputs: empty list")
        if len(texts) > args.max_inputs:
            return error(413, "PayloadTooLarge", f"inputs: {len(texts)} texts, at most {args.max_inputs} per request")
        for t in texts:
            if any(s == "" for s in ([t] if isinstance(t, str) else t)):
                return error(422, "Empty", "inputs: an empty string")
        if not truncate:
            for i, t in enumerate(texts):
                pair = (t, None) if isinstance(t, str) else tuple(t)
                n = len(tokenizer(pair[0], pair[1])["input_ids"])
                if n > limit:
                    return error(422, "Validation", f"inputs[{i}]: {n} tokens, more than {limit}")
        return None

    @app.get("/health")
    def health():
        return {"status": "ok"}

    @app.get("/info")
    def info():
        return {"model_id": os.path.basename(os.path.normpath(args.model)), "model_dir": os.path.abspath(args.model),
                "task": task, "tasks": (["predict"] if classifier else []) + (["embed"] if embedder else []),
                "labels": labels, "max_input_length": max_length,
                # ember-serve's /info has these flat; "limits" as issue #17's first sketch had it
                "max_client_batch_size": args.max_inputs, "threads": torch.get_num_threads(),
                "limits": {"max_client_batch_size": args.max_inputs},
                "embed_model": os.path.abspath(embed_dir) if embed_dir else None,
                # sentence-transformers' own truncation (256 for all-MiniLM-L6-v2), left as is
                "embed_max_input_length": embedder.max_seq_length if embedder else None,
                "backend": {"torch": torch.__version__, "transformers": transformers.__version__,
                            "threads": torch.get_num_threads(), "server": "fastapi+uvicorn, 1 worker"}}

    @app.post("/predict")
    def predict(req: PredictRequest):
        if classifier is None:
            return error(400, "Unsupported", "this server's model is not a sequence classifier: no /predict")
        single = isinstance(req.inputs, str)
        texts = [req.inputs] if single else list(req.inputs)
        bad = check_inputs(texts, req.truncate, classifier.tokenizer, max_length)
        if bad is not None:
            return bad
        if req.top_k is not None and not 1 <= req.top_k <= len(labels):
            return error(422, "Validation", f"top_k: must be an integer in [1, {len(labels)}]")
        items = [t if isinstance(t, str) else {"text": t[0], "text_pair": t[1]} for t in texts]
        kwargs = {"truncation": True, "max_length": max_length}
        if req.top_k is not None:
            kwargs["top_k"] = req.top_k
        if req.raw_scores:
            kwargs["function_to_apply"] = "none"
        if args.pipeline_batch_size:
            kwargs["batch_size"] = args.pipeline_batch_size
        out = classifier(items, **kwargs)  # a list of [{label, score}, ...], sorted by score
        out = [[{"label": d["label"], "score": float(d["score"])} for d in row] for row in out]
        return out[0] if single else out

    @app.post("/embed")
    def embed(req: EmbedRequest):
        if embedder is None:
            return error(400, "Unsupported", "this server has no embedding model (pass --embed-model DIR)")
        texts = [req.inputs] if isinstance(req.inputs, str) else list(req.inputs)
        bad = check_inputs(texts, req.truncate, embedder.tokenizer, embedder.max_seq_length)
        if bad is not None:
            return bad
        model = embedder if req.normalize else embedder_raw
        vecs = model.encode(texts, normalize_embeddings=req.normalize, convert_to_numpy=True)
        return vecs.tolist()

    return app


def main():
    args = parse_args()
    app = build_app(args)
    import uvicorn
    uvicorn.run(app, host=args.host, port=args.port, workers=1, log_level=args.log_level,
                access_log=not args.no_access_log)


if __name__ == "__main__":
    main()
