"""The paper's generalization experiment with our trainer: the same network with and without
additive constants, trained on sigma 0-10 and on 0-55 (configs/generalization/), evaluated on
BSD68 at sigma 5-100 with the papers' unclipped float noise (seed 0), PSNR in dB.
Usage: python benchmarks/generalization.py --runs DIR [--set BSD68] [--limit N] [--no-write]
(DIR holds gen_<config name> run folders from python -m bfcnn.train)."""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.quality import load_set, psnr  # noqa: E402
from benchmarks.report import publish, table  # noqa: E402

NAMES = ["bias_free_sigma0-10", "biased_sigma0-10", "bias_free_sigma0-55", "biased_sigma0-55"]
SIGMAS = [5, 10, 15, 25, 35, 50, 75, 100]
HERE = os.path.dirname(os.path.abspath(__file__))


def evaluate(run_dir: str, images, sigmas):
    from bfcnn.trainer.jacobian import load_run
    built, _ = load_run(run_dir)
    out = {}
    for s in sigmas:
        rng = np.random.default_rng(0)
        scores = []
        for clean in images:
            noisy = clean.astype(np.float32) + rng.normal(0, s, clean.shape).astype(np.float32)
            den = np.asarray(built.full(noisy[None, :, :, None] / 255.0, training=False))[0, :, :, 0] * 255.0
            scores.append(psnr(den, clean))
        out[s] = float(np.mean(scores))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--runs", default="/work/runs")
    p.add_argument("--names", nargs="+", default=NAMES, help="config names, run folders gen_<name>")
    p.add_argument("--set", default="BSD68")
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args()
    images = load_set(args.set, args.limit)
    rng = np.random.default_rng(0)
    noisy_row = ["noisy input"]
    for s in SIGMAS:
        rng = np.random.default_rng(0)
        noisy_row.append(np.mean([psnr(c + rng.normal(0, s, c.shape), c) for c in images]))
    names = args.names
    results = {n: evaluate(os.path.join(args.runs, f"gen_{n}"), images, SIGMAS) for n in names}
    rows = [noisy_row] + [[n] + [results[n][s] for s in SIGMAS] for n in names]
    text = table(["model (trained on)"] + [f"sigma {s}" for s in SIGMAS], rows)
    for n in names:   # each bias-free run against its biased twin
        twin = n.replace("bias_free_", "biased_", 1)
        if n.startswith("bias_free_") and twin in results:
            text += (f"\n\nBias-free minus biased (dB), {n[len('bias_free_'):]}: "
                     + ", ".join(f"sigma {s}: {results[n][s] - results[twin][s]:+.2f}" for s in SIGMAS))
    print(text)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(SIGMAS, noisy_row[1:], "k:", label="noisy input")
    for n in names:
        ax.plot(SIGMAS, [results[n][s] for s in SIGMAS], "-" if n.startswith("bias_free") else "--",
                marker="o", label=n)
    for top, alpha in ((10, 0.08), (55, 0.05)):
        if any(f"0-{top}" in n for n in names):
            ax.axvspan(0, top, color="C0", alpha=alpha)
    ax.set_xlabel("noise sigma (0-255)")
    ax.set_ylabel(f"PSNR on {args.set} (dB)")
    ax.set_title("Generalization beyond the training noise range")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    suffix = "" if names == NAMES else "_" + "_".join(sorted({n.split("sigma")[-1] for n in names}))
    plot = os.path.join(HERE, f"generalization{suffix}.png")
    fig.savefig(plot, dpi=110)
    if not args.no_write:
        publish(f"Generalization: bias-free vs biased ({args.set}, float noise)", text,
                "Architectures and steps per run: " + "; ".join(_recipe(args.runs, n) for n in names)
                + f". Train400 patches; shaded: training ranges. Plot: benchmarks/{os.path.basename(plot)}.")


def _recipe(runs: str, name: str) -> str:
    import json
    run = os.path.join(runs, f"gen_{name}")
    with open(os.path.join(run, "pipeline.json")) as f:
        cfg = json.load(f)
    with open(os.path.join(run, "train_log.jsonl")) as f:
        steps = json.loads(f.readlines()[-1])["step"]
    m = cfg["model"]
    return (f"{name}: {m['type']} {m['levels']} level, {m['filters']} filters x {m['no_layers']} "
            f"{'layers' if m['type'] == 'dncnn' else 'blocks'}, "
            f"bias {m['use_bias']}, {steps} steps")


if __name__ == "__main__":
    main()
