"""Training throughput of every example config on this machine, XLA off and on: patches/s
and pixels/s over steps 40-100 of a fresh run (after tracing / compilation).
Usage: python benchmarks/train_speed.py [--configs configs/*.json] [--steps 100] [--no-write]"""
import argparse
import dataclasses
import glob
import json
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.report import publish, table  # noqa: E402
from bfcnn.config import load_pipeline  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def measure(path: str, jit: bool, steps: int) -> dict:
    from bfcnn.trainer.models.multiscale import macs_per_pixel
    from bfcnn.trainer.train_loop import train
    cfg = load_pipeline(path)
    t = dataclasses.replace(cfg.train, jit_compile=jit, total_steps=steps, checkpoint_every=10 ** 6,
                            visualization_every=0)
    cfg = dataclasses.replace(cfg, train=t)
    with tempfile.TemporaryDirectory() as tmp:
        train(cfg, tmp, progress=False)
        log = [json.loads(l) for l in open(os.path.join(tmp, "train_log.jsonl"))]
    rates = [r["patches_per_s"] for r in log if r["step"] > 40]
    d = cfg.dataset
    patches = float(np.median(rates))
    return {"patches": patches, "pixels": patches * d.input_shape[0] * d.input_shape[1],
            "macs": macs_per_pixel(cfg.model), "patch": f"{d.batch_size}x{d.input_shape[0]}x{d.input_shape[1]}x{d.input_shape[2]}"}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--configs", nargs="+", default=sorted(glob.glob(os.path.join(REPO, "configs", "*.json"))))
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args()
    rows = []
    for path in args.configs:
        for jit in (False, True):
            try:
                m = measure(path, jit, args.steps)
            except Exception as exc:  # a config XLA cannot compile is reported, not fatal
                rows.append([os.path.basename(path), "on" if jit else "off", "", "", "", "", f"failed: {exc}"[:80]])
                continue
            rows.append([os.path.basename(path), "on" if jit else "off", m["patch"], round(m["macs"]),
                         round(m["patches"], 1), f"{m['pixels'] / 1e3:.0f} K", ""])
    body = table(["config", "XLA", "batch", "MACs/pixel (fwd)", "patches/s", "pixels/s", "note"], rows)
    if args.no_write:
        print(body)
    else:
        publish("Training throughput (CPU, TensorFlow backend)", body,
                "Median over the logged windows after step 40 of a fresh run; batches built by the "
                "background prefetch thread; noise added inside the step.")


if __name__ == "__main__":
    main()
