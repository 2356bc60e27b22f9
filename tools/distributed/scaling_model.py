#!/usr/bin/env python3
"""The scaling model of docs/distributed.md: data-parallel step time and efficiency at N GPUs.

A data-parallel step is one replica's compute plus the part of the gradient all-reduce that the
backward pass does not hide:

    T(N) = T_compute + exposed(N)
    T_ring(bytes, N) = 2 (N-1)/N * bytes / busbw + latency(N)           (NCCL's ring all-reduce)
    without overlap:  exposed = T_ring(all gradients)
    with overlap:     buckets start while backward runs; what cannot hide is the last bucket
                      (the embeddings: their gradients come last) plus whatever of the rest
                      does not fit in the backward's compute:
                      exposed = max(T_ring(last bucket), T_ring(all) - T_backward)
    efficiency(N) = T_compute / T(N)        (weak scaling: a fixed batch per GPU)

Inputs are the measured per-step compute (docs/performance.md "Training steps, ember against
PyTorch on the same GPU": H200, batch 32 x 128 per GPU, TF32) and public interconnect figures
(below); the CPU rows use the bandwidth and step times measured on this machine by
benchmarks/bench_distributed (numbers passed on the command line, see --help). Standard library
only.

    python3 tools/distributed/scaling_model.py [--cpu-busbw GBps --cpu-step-ms MS ...]
"""
import argparse
import math

# Public figures (assumptions, stated in docs/distributed.md):
# - inside a node of 8 GPUs, NVLink 4 + NVSwitch (900 GB/s per GPU, both directions): NCCL's
#   all-reduce bus bandwidth for large messages ~ 400 GB/s;
# - across nodes, one 400 Gb/s NDR InfiniBand NIC per GPU (50 GB/s): bus bandwidth ~ 45 GB/s,
#   the ring's slowest link;
# - latency: ~10 us per ring step inside a node; across nodes NCCL switches to trees for small
#   messages, so a log2(N) term of ~20 us per level is used.
NVLINK_BUSBW = 400e9
IB_BUSBW = 45e9

MODELS = {
    # name: (parameters, embedding parameters = the last bucket, step ms, backward share)
    # (counted on HF's BertForSequenceClassification with 2 labels; the embeddings: word,
    # position and token-type tables and their LayerNorm)
    "MiniLM (22.7M)": (22_713_986, 11_918_592, 8.7, 2 / 3),
    "BERT-base (109.5M)": (109_483_778, 23_837_184, 28.8, 2 / 3),
}


def ring_seconds(nbytes, n, busbw, latency):
    if n == 1:
        return 0.0
    return 2 * (n - 1) / n * nbytes / busbw + latency


def latency(n):
    if n <= 8:
        return 2 * (n - 1) * 10e-6
    return 2 * 7 * 10e-6 + 20e-6 * math.log2(n / 8)


def gpu_table():
    rows = ["| model | GPUs | all-reduce (all grads) ms | step without overlap ms | efficiency | "
            "step with overlap ms | efficiency |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, (params, emb, step_ms, bwd_share) in MODELS.items():
        grad_bytes, last_bytes = params * 4, emb * 4
        t_compute = step_ms / 1e3
        t_backward = bwd_share * t_compute
        for n in (8, 64, 512):
            busbw = NVLINK_BUSBW if n <= 8 else IB_BUSBW
            t_all = ring_seconds(grad_bytes, n, busbw, latency(n))
            t_last = ring_seconds(last_bytes, n, busbw, latency(n))
            no_overlap = t_compute + t_all
            overlap = t_compute + max(t_last, t_all - t_backward)
            rows.append(f"| {name} | {n} | {t_all * 1e3:.2f} | {no_overlap * 1e3:.1f} | "
                        f"{t_compute / no_overlap:.0%} | {overlap * 1e3:.1f} | "
                        f"{t_compute / overlap:.0%} |")
    return "\n".join(rows)


def cpu_rows(a):
    """The 2-process CPU prediction from this machine's measurements, beside what was measured."""
    params, emb = MODELS["MiniLM (22.7M)"][:2]
    t_compute = a.cpu_step_ms / 1e3
    t_all = ring_seconds(params * 4, 2, a.cpu_busbw * 1e9, 0)
    t_last = ring_seconds(emb * 4, 2, a.cpu_busbw * 1e9, 0)
    no_overlap = t_compute + t_all
    overlap = t_compute + max(t_last, t_all - a.backward_share * t_compute)
    return (f"MiniLM on this CPU, 2 processes: all-reduce of all gradients {t_all * 1e3:.1f} ms "
            f"at {a.cpu_busbw:.1f} GB/s bus bandwidth; compute {a.cpu_step_ms:.0f} ms per step; "
            f"predicted step {no_overlap * 1e3:.0f} ms without overlap "
            f"({t_compute / no_overlap:.0%}), {overlap * 1e3:.0f} ms with overlap "
            f"({t_compute / overlap:.0%})")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cpu-busbw", type=float, help="measured MPI all-reduce bus bandwidth, GB/s")
    p.add_argument("--cpu-step-ms", type=float, help="measured per-rank step compute, ms")
    p.add_argument("--backward-share", type=float, default=2 / 3,
                   help="backward's share of the step compute (default 2/3)")
    a = p.parse_args()
    print(gpu_table())
    if a.cpu_busbw and a.cpu_step_ms:
        print()
        print(cpu_rows(a))


if __name__ == "__main__":
    main()
