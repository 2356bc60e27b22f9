#!/usr/bin/env python3
"""Checks the include layering of ember's headers (docs/architecture.md, "The layers").

Reads every `#include <ember/...>` (and `#include "..."` that resolves inside include/ember/) in
include/ember/**/*.{hpp,cuh}, then checks each include against LAYERS and RULES below and looks
for include cycles. Prints one line per violation,

    include/ember/ops/softmax.hpp:12: ops includes backend (ember/backend/cpu/softmax.hpp): why

then a short summary, and exits 1 on any violation or cycle, 0 otherwise.
The CTest `ember_layering` runs it (tests/CMakeLists.txt).

    python3 tools/check_layering.py                  # check, print violations and the summary
    python3 tools/check_layering.py --list-edges     # every include edge, with its verdict
    python3 tools/check_layering.py --dot layers     # the layer graph in Graphviz dot
    python3 tools/check_layering.py --dot headers | dot -Tsvg > headers.svg

Standard library only.
"""

# ---- the layer table: edit here ----------------------------------------------------------------
# Lowest first. A header may include headers of its own layer or of any layer listed before it.
# Patterns are relative to include/ember/: `*` stays inside one folder, `**` crosses folders.
# Every header must match exactly one layer (a new folder has to be placed here).
#
# The order among nn, data, optim, io, models and train follows today's includes: data and
# optim use only tensor and core; io uses nn and optim (a checkpoint holds a model and an
# optimizer); models use io, data, nn and ops (from_pretrained reads safetensors and a
# vocabulary); train uses tensor and core. None of them includes sideways, so one order fits
# all. nn, data and optim do not include one another, so their order among themselves is free;
# they only have to sit below io and models, which use them.
LAYERS = {
    "core": ["core/*"],  # Shape, Device, Storage, Error, Generator, dtypes: std only
    "backend": ["backend/**"],  # the kernel table (backend/*.hpp) and its CPU/CUDA kernels
    "tensor": ["tensor/*", "autograd/*"],  # one layer: Tensor<T> holds its grad_fn and grad
    "ops": ["ops/*"],
    "nn": ["nn/*", "nn.hpp"],
    "data": ["data/*"],
    "optim": ["optim/*", "optim.hpp"],
    "io": ["io/*"],
    "models": ["models/**"],
    "train": ["train/*"],
    "distributed": ["distributed/*"],  # process groups (MPI), DistributedDataParallel
    "serve": ["serve/*"],  # inference server parts: batcher, inference model, protocol, metrics
    "umbrella": ["ember.hpp", "cuda.hpp"],  # may include anything
    # nvcc-only pieces of GPU programs: the NCCL group, which queues its collectives on the CUDA
    # backend's current stream (backend/cuda/stream.cuh), so no rule keeps it from backend/cuda
    "gpu-programs": ["distributed/nccl.hpp"],
}

# Further rules, checked on every include besides the order:
# (who, may not include, why). `who` is a list of layer names and/or patterns.
SEAM = "backend/*"  # the seam headers directly in backend/: the one way into the kernels
ABOVE_BACKEND = ["tensor", "ops", "nn", "data", "optim", "io", "models", "train", "distributed",
                 "serve"]
RULES = [
    (["backend/cpu/**"], "backend/cuda/**",
     "the CPU backend shares code with CUDA only through backend/*.hpp"),
    (["backend/cuda/**"], "backend/cpu/**",
     "the CUDA backend shares code with the CPU only through backend/*.hpp"),
    ([SEAM], "backend/cuda/**",
     "the seam headers are compiled by any C++ compiler and know no backend but the CPU's table"),
    (ABOVE_BACKEND, "backend/*/**",
     "above the backend, only the seam headers backend/*.hpp"),
]
# cuda.hpp is the only header above the backend that may include backend/cuda/*: it is in the
# umbrella layer, which no rule names.

# ---- the checker --------------------------------------------------------------------------------
import argparse
import os
import re
import sys
from collections import defaultdict

INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
DIRECTIVE_RE = re.compile(r"^\s*#\s*(\w+)\s*(.*)$")
IFNDEF_RE = re.compile(r"^(?:ifndef\s+(\w+)|if\s+!\s*defined\s*\(?\s*(\w+)\s*\)?)")


def pattern_regex(pattern):
    """`*` matches inside one path segment, `**` across segments."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


LAYER_ORDER = list(LAYERS)
LAYER_RANK = {name: rank for rank, name in enumerate(LAYER_ORDER)}
LAYER_RES = {name: [pattern_regex(p) for p in pats] for name, pats in LAYERS.items()}


def layer_of(rel):
    found = [name for name, res in LAYER_RES.items() if any(r.match(rel) for r in res)]
    # A file named exactly by a layer belongs to it, whatever wildcard also matches.
    exact = [name for name in found if rel in LAYERS[name]]
    if len(exact) == 1:
        return exact[0]
    return found[0] if len(found) == 1 else (None if not found else found)


def matches_who(rel, who):
    layer = layer_of(rel)
    for w in who:
        if w in LAYERS:
            if layer == w:
                return True
        elif pattern_regex(w).match(rel):
            return True
    return False


def strip_comments(lines):
    """Blanks out /* */ and // comments, keeping line numbers (good enough for directives)."""
    out, in_block = [], False
    for line in lines:
        res, i = [], 0
        while i < len(line):
            if in_block:
                end = line.find("*/", i)
                if end < 0:
                    i = len(line)
                else:
                    in_block, i = False, end + 2
            elif line.startswith("/*", i):
                in_block, i = True, i + 2
            elif line.startswith("//", i):
                break
            elif line[i] == '"':  # a string literal (an include's quoted name, too)
                end = line.find('"', i + 1)
                end = len(line) if end < 0 else end + 1
                res.append(line[i:end])
                i = end
            else:
                res.append(line[i])
                i += 1
        out.append("".join(res))
    return out


class Header:
    def __init__(self, rel, path):
        self.rel, self.path = rel, path
        self.includes = []  # (line, target rel, as written)
        self.directives = []  # (line, name, rest)
        self.defines = set()


def parse(root):
    base = os.path.join(root, "include", "ember")
    headers = {}
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        for name in sorted(filenames):
            if not name.endswith((".hpp", ".cuh")):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, base).replace(os.sep, "/")
            h = Header(rel, path)
            with open(path, encoding="utf-8", errors="replace") as f:
                lines = strip_comments(f.read().splitlines())
            for n, line in enumerate(lines, 1):
                d = DIRECTIVE_RE.match(line)
                if not d:
                    continue
                h.directives.append((n, d.group(1), d.group(2).strip()))
                if d.group(1) == "define":
                    h.defines.add(d.group(2).split("(")[0].split()[0] if d.group(2) else "")
                m = INCLUDE_RE.match(line)
                if not m:
                    continue
                written = m.group(2)
                if written.startswith("ember/"):
                    target = written[len("ember/"):]
                elif m.group(1) == '"':  # a relative include, if it lands inside include/ember
                    resolved = os.path.normpath(os.path.join(dirpath, written))
                    if not resolved.startswith(base + os.sep):
                        continue
                    target = os.path.relpath(resolved, base).replace(os.sep, "/")
                else:
                    continue
                h.includes.append((n, target, written))
            headers[rel] = h
    return headers


def is_redirect(h, line, target, headers):
    """True for the forwarding pattern of autograd/node.hpp and tensor/tensor_impl.hpp:

        #ifndef EMBER_TENSOR_CLASS_DEFINED   // defined by the target
        #include <ember/tensor/tensor.hpp>   // which includes this header back
        #else
        ...the body...

    The include only forwards a header included first to the header that owns it; it is not a
    dependency, and the pair is not reported as a cycle."""
    ds = h.directives
    for k, (n, _, _) in enumerate(ds):
        if n != line:
            continue
        if k == 0 or k + 1 >= len(ds) or ds[k + 1][1] != "else":
            return False
        m = IFNDEF_RE.match(ds[k - 1][1] + " " + ds[k - 1][2])
        macro = m and (m.group(1) or m.group(2))
        return bool(macro) and target in headers and macro in headers[target].defines
    return False


def check_edge(src, dst):
    """None if allowed, else the reason."""
    ls, ld = layer_of(src), layer_of(dst)
    if LAYER_RANK[ld] > LAYER_RANK[ls]:
        return f"{ld} is above {ls}"
    for who, banned, why in RULES:
        if matches_who(src, who) and pattern_regex(banned).match(dst):
            return why
    return None


def find_cycles(nodes, edges):
    """Tarjan's strongly connected components; one cycle (as a path) per component."""
    index, low, on_stack, stack, comps, counter = {}, {}, set(), [], [], [0]
    sys.setrecursionlimit(max(10000, 4 * len(nodes)))

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1 or v in edges.get(v, ()):
                comps.append(comp)

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    cycles = []
    for comp in comps:  # a shortest path back to the start, inside the component
        start = min(comp)
        prev, frontier, seen = {}, [start], {start}
        while frontier and start not in prev:
            nxt = []
            for v in frontier:
                for w in sorted(edges.get(v, ())):
                    if w in comp and w == start and start not in prev:
                        prev[start] = v
                    elif w in comp and w not in seen:
                        seen.add(w)
                        prev[w] = v
                        nxt.append(w)
            frontier = nxt
        path, v = [start], prev[start]
        while v != start:
            path.append(v)
            v = prev[v]
        path.append(start)
        cycles.append(list(reversed(path)))
    return cycles


def dot(kind, headers, edges):
    q = lambda s: '"' + s + '"'
    print("digraph ember_" + kind + " {")
    print("  rankdir=BT; node [shape=box, fontname=Helvetica, fontsize=10];")
    if kind == "layers":  # one arrow per pair of layers, labelled with its include count
        counts, bad = defaultdict(int), defaultdict(int)
        for e in edges:
            pair = (e["layer_src"], e["layer_dst"])
            if e["why"]:
                bad[pair] += 1
            elif pair[0] != pair[1] and not e["redirect"]:
                counts[pair] += 1
        for name in LAYER_ORDER:
            n = sum(1 for h in headers if layer_of(h) == name)
            print(f"  {q(name)} [label={q(f'{name} ({n})')}];")
        for (a, b), n in sorted(counts.items()):
            print(f"  {q(a)} -> {q(b)} [label={n}];")
        for (a, b), n in sorted(bad.items()):  # violations (inside a layer too) in red
            print(f"  {q(a)} -> {q(b)} [label={q(f'{n} bad')}, color=red, fontcolor=red];")
    else:
        for name in LAYER_ORDER:
            print(f"  subgraph {q('cluster_' + name)} {{ label={q(name)};")
            for h in sorted(headers):
                if layer_of(h) == name:
                    print(f"    {q(h)};")
            print("  }")
        for e in edges:
            attrs = []
            if e["why"]:
                attrs.append("color=red")
            if e["redirect"]:
                attrs.append("style=dotted")
            a = f" [{', '.join(attrs)}]" if attrs else ""
            print(f"  {q(e['src'])} -> {q(e['dst'])}{a};")
    print("}")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=os.path.dirname(here), help="repository root")
    ap.add_argument("--dot", choices=["layers", "headers"], help="print a Graphviz graph")
    ap.add_argument("--list-edges", action="store_true", help="print every include edge")
    args = ap.parse_args()

    headers = parse(args.root)
    prefix = "include/ember/"
    problems = []
    for rel in sorted(headers):
        layer = layer_of(rel)
        if layer is None:
            problems.append(f"{prefix}{rel}:1: header in no layer (add it to LAYERS)")
        elif isinstance(layer, list):
            problems.append(f"{prefix}{rel}:1: header in several layers: {', '.join(layer)}")
    if problems:
        print("\n".join(problems))
        return 1

    edges = []
    for rel, h in sorted(headers.items()):
        for line, target, written in h.includes:
            e = {"src": rel, "dst": target, "line": line, "written": written,
                 "layer_src": layer_of(rel), "redirect": False, "why": None}
            if target not in headers:
                e["why"] = "no such header"
                e["layer_dst"] = "?"
            else:
                e["layer_dst"] = layer_of(target)
                e["why"] = check_edge(rel, target)
                e["redirect"] = is_redirect(h, line, target, headers)
            edges.append(e)

    graph = defaultdict(set)
    for e in edges:
        if not e["redirect"] and e["dst"] in headers:
            graph[e["src"]].add(e["dst"])
    cycles = find_cycles(headers, graph)

    if args.dot:
        dot(args.dot, headers, edges)
        return 0
    if args.list_edges:
        for e in edges:
            verdict = ("VIOLATION: " + e["why"]) if e["why"] else (
                "redirect" if e["redirect"] else "ok")
            print(f"{prefix}{e['src']}:{e['line']}: {e['layer_src']} -> {e['layer_dst']}"
                  f" ({e['written']}) {verdict}")

    violations = [e for e in edges if e["why"]]
    for e in violations:
        print(f"{prefix}{e['src']}:{e['line']}: {e['layer_src']} includes {e['layer_dst']}"
              f" ({e['written']}): {e['why']}")
    for c in cycles:
        print("include cycle: " + " -> ".join(c))

    per_layer = defaultdict(int)
    for rel in headers:
        per_layer[layer_of(rel)] += 1
    cross = sum(1 for e in edges if e["layer_src"] != e["layer_dst"])
    redirects = sum(1 for e in edges if e["redirect"])
    print(f"check_layering: {len(headers)} headers, {len(edges)} include edges ({cross} between "
          f"layers, {redirects} redirects), {len(LAYERS)} layers: "
          + " < ".join(f"{n}({per_layer[n]})" for n in LAYER_ORDER))
    print(f"check_layering: {len(violations)} violations, {len(cycles)} cycles"
          + ("" if violations or cycles else " — OK"))
    return 1 if violations or cycles else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # e.g. piped into head
        sys.stderr.close()
        sys.exit(1)
