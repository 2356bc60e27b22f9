#!/usr/bin/env python3
"""torch.mm / torch.bmm GFLOP/s on the shapes of benchmarks/bench_gemm.cpp, for the GEMM table of
docs/performance.md (PyTorch 2.x from PyPI: MKL). Same shapes and thread counts as bench_gemm:
M×K×N = 4096×768×768, 4096×768×3072, 4096×3072×768 as x·Wᵀ (W stored [N, K], the Linear layout)
and the attention batch, 384 × (128×64 · 64×128). Best of --repetitions timed calls after two
warm-up calls.
    .venv-torch/bin/python tools/torch_gemm_bench.py --threads 2
"""
import argparse
import time

import torch


def best_seconds(fn, repetitions):
    fn()
    fn()
    best = float("inf")
    for _ in range(repetitions):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repetitions", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    for m, k, n in [(4096, 768, 768), (4096, 768, 3072), (4096, 3072, 768)]:
        x, w = torch.randn(m, k), torch.randn(n, k)
        s = best_seconds(lambda: torch.mm(x, w.t()), args.repetitions)
        print(f"torch.mm/{m}x{k}x{n}/{args.threads}  {2 * m * n * k / s * 1e-9:.1f} GFLOP/s")
    q, kt = torch.randn(384, 128, 64), torch.randn(384, 64, 128)
    s = best_seconds(lambda: torch.bmm(q, kt), args.repetitions)
    print(f"torch.bmm/attn/{args.threads}  {2 * 384 * 128 * 128 * 64 / s * 1e-9:.1f} GFLOP/s")


if __name__ == "__main__":
    main()
