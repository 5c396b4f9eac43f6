"""Record training runs in RESULTS.md: config, steps, wall time, patches/s and the PSNR the run
reached (mean training-batch PSNR over its last 20 log lines, noisy vs denoised).
Usage: python benchmarks/training_runs.py RUN_DIR [RUN_DIR ...] [--no-write]
Wall time sums the gaps between log lines, skipping pauses over 120 s (restarts)."""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.report import publish, table  # noqa: E402


def summary(run: str):
    log = [json.loads(l) for l in open(os.path.join(run, "train_log.jsonl"))]
    times = np.array([e["time"] for e in log])
    gaps = np.diff(times)
    wall = float(gaps[gaps < 120].sum())
    restarts = int((gaps >= 120).sum()) + sum(1 for _ in open(os.path.join(run, "command.txt"))) - 1
    tail = log[-20:]
    finite = [e["psnr_noisy"] for e in tail if np.isfinite(e["psnr_noisy"])]
    cmd = open(os.path.join(run, "command.txt")).readline().split("#")[0].strip()
    cfg = next((a for a in cmd.split() if a.endswith(".json")), "?")
    return [cfg, log[-1]["step"], f"{wall / 60:.0f}", restarts, f"{np.median([e['patches_per_s'] for e in log]):.0f}",
            f"{np.mean([e['psnr'] for e in tail]):.2f}", f"{np.mean(finite):.2f}" if finite else "-"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("runs", nargs="+")
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args()
    rows = [summary(r) for r in args.runs]
    text = table(["config", "steps", "wall minutes", "resumes", "patches/s (median)",
                  "train PSNR, last 20 logs (dB)", "noisy PSNR, same batches (dB)"], rows)
    print(text)
    if not args.no_write:
        publish("Training runs", text, "CPU only (2 cores), several runs sharing the machine, so "
                "patches/s are lower than benchmarks/train_speed.py alone. Held-out quality of the "
                "shipped models: the quality tables.")


if __name__ == "__main__":
    main()
