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
    results = {n: evaluate(os.path.join(args.runs, f"gen_{n}"), images, SIGMAS) for n in NAMES}
    rows = [noisy_row] + [[n] + [results[n][s] for s in SIGMAS] for n in NAMES]
    text = table(["model (trained on)"] + [f"sigma {s}" for s in SIGMAS], rows)
    gaps = {s: results["bias_free_sigma0-55"][s] - results["biased_sigma0-55"][s] for s in SIGMAS}
    gaps10 = {s: results["bias_free_sigma0-10"][s] - results["biased_sigma0-10"][s] for s in SIGMAS}
    text += ("\n\nBias-free minus biased (dB), trained on 0-55: "
             + ", ".join(f"sigma {s}: {g:+.2f}" for s, g in gaps.items())
             + "\nBias-free minus biased (dB), trained on 0-10: "
             + ", ".join(f"sigma {s}: {g:+.2f}" for s, g in gaps10.items()))
    print(text)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(SIGMAS, noisy_row[1:], "k:", label="noisy input")
    for n in NAMES:
        ax.plot(SIGMAS, [results[n][s] for s in SIGMAS], "-" if n.startswith("bias_free") else "--",
                marker="o", label=n)
    ax.axvspan(0, 10, color="C0", alpha=0.08)
    ax.axvspan(0, 55, color="C1", alpha=0.05)
    ax.set_xlabel("noise sigma (0-255)")
    ax.set_ylabel(f"PSNR on {args.set} (dB)")
    ax.set_title("Generalization beyond the training noise range")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(HERE, "generalization.png"), dpi=110)
    if not args.no_write:
        publish(f"Generalization: bias-free vs biased ({args.set}, float noise)", text,
                "Same architecture (resnet, 1 level, 16 filters, 6 blocks, 3x3), 2000 steps each on "
                "Train400 40x40 patches; shaded: training ranges. Plot: benchmarks/generalization.png.")


if __name__ == "__main__":
    main()
