#!/usr/bin/env python3
"""Checks that every public header of ember is self-contained and guarded.

For each include/ember/**/*.hpp (not the nvcc-only cuda.hpp, backend/cuda/** and
distributed/nccl.hpp), compiles a one-line translation unit `#include <ember/HEADER>` with
`-fsyntax-only`, so a header that leans on something its includer happened to include first
fails here. Also checks that each header
has `#pragma once` (or, for the two headers that forward to tensor.hpp when included first,
the include guard that pattern needs; see check_layering.is_redirect).

The CTest `ember_headers` runs it with the project's compiler and ember's usage requirements,
which CMake writes to a flags file (tests/CMakeLists.txt):

    python3 tools/check_headers.py --cxx g++ --flags-file build/release/tests/ember_header_flags_CXX.txt

Without --flags-file, give the flags after `--`:

    python3 tools/check_headers.py --cxx g++ -- -std=c++17 -fopenmp -Iinclude -I/usr/include/eigen3

Prints the headers that fail, each with its first error, and exits 1 if any fails.
Standard library only.
"""
import argparse
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.dont_write_bytecode = True  # no __pycache__ in the source tree when CTest runs this
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_layering  # noqa: E402  (the header parser and the forwarding-include pattern)

NEEDS_NVCC = ["cuda.hpp", "backend/cuda/**", "distributed/nccl.hpp"]  # relative to include/ember/
# Headers of an optional dependency: compiled when the flags file says `have=NAME` (CMake found
# it and added its include directories), skipped otherwise.
NEEDS = {"distributed/mpi.hpp": "mpi"}
ERROR_RE = re.compile(r"(fatal )?error\b")


def read_flags_file(path):
    """Lines `include=DIR`, `implicit=DIR`, `define=NAME[=VALUE]`, `option=FLAG`, `std=FLAG`,
    `cxxflags=FLAGS`, `have=DEPENDENCY` (CMake's file(GENERATE) output); returns the flags and
    the set of `have`s. Directories the compiler searches anyway
    (`implicit`) are dropped from the -I list: `-I/usr/include` breaks libstdc++'s
    #include_next."""
    entries = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("=")
            if value:
                entries.append((key, value))
    have = {v for k, v in entries if k == "have"}
    implicit = {os.path.normpath(v) for k, v in entries if k == "implicit"}
    flags, seen = [], set()
    for key, value in entries:
        if key == "include":
            d = os.path.normpath(value)
            if d not in implicit and d not in seen:
                seen.add(d)
                flags.append("-I" + d)
        elif key == "define":
            flags.append("-D" + value)
        elif key in ("option", "std"):
            flags.append(value)
        elif key == "cxxflags":
            flags.extend(value.split())
    return flags, have


def guarded(h, headers):
    """`#pragma once`, or the forwarding pattern: `#ifndef M` / `#include <owner>` / `#else`
    first, then an `#ifndef G` / `#define G` guard (#pragma once would stop the owner from
    including the body the second time)."""
    ds = h.directives
    if any(name == "pragma" and rest.split()[:1] == ["once"] for _, name, rest in ds):
        return True
    if len(ds) < 5 or ds[1][1] != "include" or not h.includes:
        return False
    line, target, _ = h.includes[0]
    if line != ds[1][0] or not check_layering.is_redirect(h, line, target, headers):
        return False
    return ds[3][1] == "ifndef" and ds[4][1] == "define" and ds[3][2] == ds[4][2].split()[0]


def include_only(h):
    """A header of only `#pragma once` and `#include <ember/...>` lines (ember.hpp, nn.hpp,
    optim.hpp) is self-contained when every header it includes is: it is not compiled again
    (ember.hpp alone is ~5 s), only checked for its guard."""
    with open(h.path, encoding="utf-8", errors="replace") as f:
        lines = check_layering.strip_comments(f.read().splitlines())
    ember_includes = {n for n, _, written in h.includes if written.startswith("ember/")}
    for n, line in enumerate(lines, 1):
        if not line.strip() or n in ember_includes:
            continue
        if line.strip().split() in (["#pragma", "once"], ["#", "pragma", "once"]):
            continue
        return False
    return True


def compile_one(cxx, flags, rel):
    tu = f"#include <ember/{rel}>\n"
    cmd = [cxx, "-x", "c++", "-fsyntax-only", *flags, "-"]
    start = time.monotonic()
    p = subprocess.run(cmd, input=tu, capture_output=True, text=True)
    elapsed = time.monotonic() - start
    if p.returncode == 0:
        return rel, None, elapsed
    lines = p.stderr.splitlines()
    first = next((l for l in lines if ERROR_RE.search(l)), lines[0] if lines else "")
    return rel, first.strip() or f"exit code {p.returncode}", elapsed


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=os.path.dirname(here), help="repository root")
    ap.add_argument("--cxx", default=os.environ.get("CXX", "c++"), help="C++ compiler")
    ap.add_argument("--flags-file", help="flags written by CMake (see read_flags_file)")
    ap.add_argument("-j", "--jobs", type=int, default=2, help="parallel compiles (default 2)")
    ap.add_argument("--slowest", type=int, default=3, help="print the N slowest headers")
    ap.add_argument("flags", nargs="*", help="extra compiler flags, after --")
    args = ap.parse_args()

    flags, have = read_flags_file(args.flags_file) if args.flags_file else ([], set())
    flags += args.flags
    if not any(f.startswith(("-std=", "-std:")) for f in flags):
        flags.insert(0, "-std=c++17")
    inc = os.path.join(args.root, "include")
    if not any(f.startswith("-I") and os.path.isdir(f[2:]) and os.path.samefile(f[2:], inc)
               for f in flags):
        flags.append("-I" + inc)

    headers = check_layering.parse(args.root)
    skip = [check_layering.pattern_regex(p) for p in NEEDS_NVCC]
    missing = sorted(rel for rel, dep in NEEDS.items() if dep not in have and rel in headers)
    todo = sorted(rel for rel in headers
                  if rel.endswith(".hpp") and not any(r.match(rel) for r in skip)
                  and rel not in missing)

    nvcc_only = sum(1 for rel in headers if any(r.match(rel) for r in skip))
    unguarded = [rel for rel in todo if not guarded(headers[rel], headers)]
    start = time.monotonic()
    umbrellas = [rel for rel in todo if include_only(headers[rel])]
    to_compile = [rel for rel in todo if rel not in umbrellas]
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(lambda rel: compile_one(args.cxx, flags, rel), to_compile))
    wall = time.monotonic() - start

    failed = [(rel, err) for rel, err, _ in results if err]
    for rel in unguarded:
        print(f"include/ember/{rel}:1: no #pragma once")
    for rel, err in failed:
        print(f"include/ember/{rel}: does not compile on its own: {err}")
    slow = sorted(results, key=lambda r: -r[2])[: args.slowest]
    print("check_headers: slowest: " + ", ".join(f"{rel} {t:.1f}s" for rel, _, t in slow))
    only = f" ({' '.join(umbrellas)})" if umbrellas else ""
    print(f"check_headers: {len(todo)} headers ({len(to_compile)} compiled, {len(umbrellas)} "
          f"include-only{only}, {nvcc_only} nvcc-only skipped"
          f"{''.join(f', {rel} skipped (no {NEEDS[rel]})' for rel in missing)}), "
          f"{len(failed)} not self-contained, {len(unguarded)} without #pragma once; "
          f"{wall:.1f}s with {args.jobs} jobs ({args.cxx})")
    return 1 if failed or unguarded else 0


if __name__ == "__main__":
    sys.exit(main())
