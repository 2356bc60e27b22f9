#!/usr/bin/env python3
"""Check a server's GET /metrics: it must parse as Prometheus text format 0.0.4
(prometheus_client.parser.text_string_to_metric_families) and hold ember-serve's families:

  ember_requests_total{endpoint,status}   counter
  ember_request_duration_seconds          histogram
  ember_queue_duration_seconds            histogram
  ember_batch_size                        histogram
  ember_batch_tokens                      histogram
  ember_queue_depth                       gauge
  ember_tokens_total                      counter

Histograms must have _bucket samples with le (ending at +Inf), _sum and _count; the requests
counter must carry the endpoint and status labels once any request was counted. Prints every
family found (name, type, number of samples) and then one JSON line; exit 0 if all is well, 1
otherwise. --file FILE checks a saved scrape instead of --url. Starts no server.

  .venv-torch/bin/python tools/serve/check_metrics.py --url http://127.0.0.1:8080
"""
import argparse
import json
import os
import sys
import urllib.error

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import die
from http_client import describe_connection_error, request

TOOL = "check_metrics"

# name as exposed -> type. The parser names a counter family without its _total suffix.
EXPECTED = {
    "ember_requests_total": "counter",
    "ember_request_duration_seconds": "histogram",
    "ember_queue_duration_seconds": "histogram",
    "ember_batch_size": "histogram",
    "ember_batch_tokens": "histogram",
    "ember_queue_depth": "gauge",
    "ember_tokens_total": "counter",
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:8080", help="server base URL (default %(default)s)")
    ap.add_argument("--file", help="parse this saved /metrics text instead of fetching --url")
    ap.add_argument("--timeout", type=float, default=10.0)
    args = ap.parse_args()

    from prometheus_client.parser import text_string_to_metric_families

    failures = []
    if args.file:
        try:
            text = open(args.file, encoding="utf-8").read()
        except OSError as e:
            die(TOOL, f"cannot read {args.file}: {e}")
        source = args.file
    else:
        source = args.url.rstrip("/") + "/metrics"
        try:
            status, body, headers = request("GET", source, timeout=args.timeout)
        except (urllib.error.URLError, OSError) as e:
            die(TOOL, describe_connection_error(source, e))
        if status != 200:
            die(TOOL, f"{source} answered HTTP {status}: {body[:200]!r}")
        ctype = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
        if not ctype.startswith("text/plain"):
            failures.append(f"Content-Type is '{ctype}', expected text/plain; version=0.0.4")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as e:
            die(TOOL, f"{source}: body is not UTF-8 ({e})")

    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser raises ValueError and others on bad lines
        print(json.dumps({"source": source, "parsed": False, "error": str(e), "ok": False}))
        die(TOOL, f"{source} does not parse as Prometheus text format: {e}")

    found = {}
    for fam in families:
        found[fam.name] = fam
        print(f"{fam.name:<40} {fam.type:<10} {len(fam.samples)} samples")

    def lookup(name):
        return found.get(name) or (found.get(name[:-6]) if name.endswith("_total") else None)

    for name, typ in EXPECTED.items():
        fam = lookup(name)
        if fam is None:
            failures.append(f"missing family {name} ({typ})")
            continue
        if fam.type != typ:
            failures.append(f"{name}: type {fam.type}, expected {typ}")
            continue
        if typ == "histogram":
            kinds = {s.name[len(fam.name):] for s in fam.samples}
            if fam.samples and not {"_bucket", "_sum", "_count"} <= kinds:
                failures.append(f"{name}: samples {sorted(kinds)}, expected _bucket, _sum and _count")
            les = [s.labels.get("le") for s in fam.samples if s.name.endswith("_bucket")]
            if les and "+Inf" not in les:
                failures.append(f"{name}: no le=\"+Inf\" bucket")
        if name == "ember_requests_total":
            for s in fam.samples:
                if s.name.endswith("_created"):
                    continue
                if not {"endpoint", "status"} <= set(s.labels):
                    failures.append(f"{name}: sample {s.name}{s.labels} lacks the endpoint/status labels")
                    break

    for f in failures:
        print("FAIL", f, file=sys.stderr)
    print(json.dumps({"source": source, "parsed": True, "families": len(families),
                      "expected_found": sum(lookup(n) is not None for n in EXPECTED),
                      "expected": len(EXPECTED), "failures": len(failures), "ok": not failures}))
    sys.exit(0 if not failures else 1)


if __name__ == "__main__":
    main()
