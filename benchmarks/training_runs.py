"""Record training runs: config, steps, wall time, patches/s and the PSNR the run reached (mean
training-batch PSNR over its last 20 log lines, noisy vs denoised). Every run ever recorded is
kept in benchmarks/training_runs.jsonl (one line per run; a run recorded again replaces its
line); RESULTS.md's "Training runs" section is that whole record as a table.
Usage: python benchmarks/training_runs.py [RUN_DIR ...] [--note TEXT] [--no-write]
Wall time sums the gaps between log lines, skipping pauses over 120 s (restarts)."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.report import publish, table  # noqa: E402

RECORD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "training_runs.jsonl")


def summary(run: str, note: str = "") -> dict:
    """One run directory's line of the record."""
    log = [json.loads(line) for line in open(os.path.join(run, "train_log.jsonl"))]
    times = np.array([e["time"] for e in log])
    gaps = np.diff(times)
    wall = float(gaps[gaps < 120].sum())
    restarts = int((gaps >= 120).sum()) + sum(1 for _ in open(os.path.join(run, "command.txt"))) - 1
    tail = log[-20:]
    finite = [e["psnr_noisy"] for e in tail if e.get("psnr_noisy") is not None and np.isfinite(e["psnr_noisy"])]
    psnrs = [e["psnr"] for e in tail if e.get("psnr") is not None]
    cmd = open(os.path.join(run, "command.txt")).readline().split("#")[0].strip()
    cfg = next((a for a in cmd.split() if a.endswith(".json")), "?")
    return {"date": time.strftime("%Y-%m-%d", time.gmtime(log[-1]["time"])), "run": os.path.basename(os.path.normpath(run)),
            "config": cfg, "steps": log[-1]["step"], "wall_minutes": round(wall / 60),
            "resumes": restarts, "patches_per_s": round(float(np.median([e["patches_per_s"] for e in log]))),
            "train_psnr": round(float(np.mean(psnrs)), 2) if psnrs else None,
            "noisy_psnr": round(float(np.mean(finite)), 2) if finite else None, "note": note}


def load() -> list:
    if not os.path.exists(RECORD):
        return []
    return [json.loads(line) for line in open(RECORD, encoding="utf-8") if line.strip()]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("runs", nargs="*")
    p.add_argument("--note", default="", help="what the run was for / whether it shipped")
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args()
    record = load()
    for run in args.runs:
        line = summary(run, args.note)
        record = [r for r in record if not (r.get("run") and r.get("run") == line["run"] and r["config"] == line["config"])]
        record.append(line)
    rows = [[r["date"], r["config"], r["steps"], r["wall_minutes"], r["resumes"], r["patches_per_s"],
             "-" if r["train_psnr"] is None else r["train_psnr"], "-" if r["noisy_psnr"] is None else r["noisy_psnr"],
             r.get("note", "")] for r in record]
    text = table(["date", "config", "steps", "wall minutes", "resumes", "patches/s (median)",
                  "train PSNR, last 20 logs (dB)", "noisy PSNR, same batches (dB)", "note"], rows)
    if args.no_write:
        print(text)
        return
    tmp = RECORD + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in record)
    os.replace(tmp, RECORD)
    publish("Training runs", text, "Every recorded run (benchmarks/training_runs.jsonl). CPU only (2 "
            "cores), often beside another job, so patches/s are lower than benchmarks/train_speed.py "
            "alone. Held-out quality of the shipped models: the quality sections.")


if __name__ == "__main__":
    main()
