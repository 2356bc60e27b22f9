"""Helpers shared by the tools in tools/serve/ (no third-party imports here)."""
import csv
import os
import sys

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_SST2_DEV = os.path.join(REPO_ROOT, "examples", "data", "sst2", "dev.tsv")
EMBER_CACHE = os.environ.get("EMBER_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "ember"))
DEFAULT_CLASSIFIER = os.path.join(EMBER_CACHE, "models", "minilm-sst2-quick")
DEFAULT_EMBEDDER = os.path.join(EMBER_CACHE, "models", "all-MiniLM-L6-v2")


def die(tool, msg, code=1):
    print(f"{tool}: error: {msg}", file=sys.stderr)
    sys.exit(code)


def read_sentences(path, limit=None):
    """The `sentence` column of an SST-2 style TSV (header `sentence<TAB>label`), stripped, blanks
    dropped. A file with no tab in its first line is read as one text per line."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path}")
    with open(path, encoding="utf-8", newline="") as f:
        first = f.readline()
        f.seek(0)
        if "\t" in first:
            reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
            header = next(reader)
            col = header.index("sentence") if "sentence" in header else 0
            texts = [row[col].strip() for row in reader if len(row) > col]
        else:
            texts = [line.strip() for line in f]
    texts = [t for t in texts if t]
    if not texts:
        raise ValueError(f"{path}: no sentences")
    return texts[:limit] if limit else texts


def check_model_dir(tool, path, need=("config.json",)):
    if not os.path.isdir(path):
        die(tool, f"model directory {path} does not exist (pass --model DIR; scripts/fetch_model.sh "
                  "fetches all-MiniLM-L6-v2, bert_classification train writes a classifier)")
    for f in need:
        if not os.path.isfile(os.path.join(path, f)):
            die(tool, f"{path} has no {f}: not a Hugging Face model directory")


def add_check_arguments(ap, tol_help):
    """The options check_embed.py and check_predict.py share."""
    ap.add_argument("--url", default="http://127.0.0.1:8080", help="server base URL (default %(default)s)")
    ap.add_argument("--data", default=DEFAULT_SST2_DEV, help="sentences (default %(default)s)")
    ap.add_argument("--n", type=int, default=100, help="sentences to check (default %(default)s)")
    ap.add_argument("--batch-sizes", default="1,7,32,60", help="batch sizes, cycled (default %(default)s)")
    ap.add_argument("--tol", type=float, default=1e-5, help=tol_help + " (default %(default)s)")
    ap.add_argument("--seed", type=int, default=0, help="shuffle seed")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per HTTP request")


def parse_batch_sizes(tool, text):
    try:
        sizes = [int(s) for s in text.split(",")]
        if all(s > 0 for s in sizes):
            return sizes
    except ValueError:
        pass
    die(tool, f"--batch-sizes '{text}': expected positive integers like 1,7,32,60", 2)
