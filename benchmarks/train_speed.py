"""Training throughput of every example config on this machine, XLA off and on: patches/s
and pixels/s over steps 40-100 of a fresh run (after tracing / compilation). With
--camera-noise F each config also runs with dataset.camera_noise.fraction = F (XLA off), beside
its own run at 0, so the cost of camera-noise synthesis is a ratio measured in the same run.
Usage: python benchmarks/train_speed.py [--configs configs/*.json] [--steps 100] [--camera-noise 0.5] [--no-write]"""
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


def measure(path: str, jit: bool, steps: int, camera: float = -1.0) -> dict:
    """camera >= 0 sets dataset.camera_noise.fraction; below 0 keeps the config's."""
    from bfcnn.trainer.models.multiscale import macs_per_pixel
    from bfcnn.trainer.train_loop import train
    cfg = load_pipeline(path)
    t = dataclasses.replace(cfg.train, jit_compile=jit, total_steps=steps, checkpoint_every=10 ** 6,
                            visualization_every=0)
    d = cfg.dataset
    if camera >= 0:
        d = dataclasses.replace(d, camera_noise=dataclasses.replace(d.camera_noise, fraction=camera))
    cfg = dataclasses.replace(cfg, train=t, dataset=d)
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
    p.add_argument("--camera-noise", type=float, default=None,
                   help="also time each config at this camera-noise fraction and at 0 (XLA off)")
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args()
    if args.camera_noise is not None:
        camera_rows(args)
        return
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


def camera_rows(args) -> None:
    rows = []
    for path in args.configs:
        base = measure(path, False, args.steps, 0.0)
        cam = measure(path, False, args.steps, args.camera_noise)
        rows.append([os.path.basename(path), base["patch"], round(base["patches"], 1), round(cam["patches"], 1),
                     round(cam["patches"] / base["patches"], 2)])
    body = table(["config", "batch", "patches/s, Gaussian only", f"patches/s, camera noise {args.camera_noise:g}",
                  "ratio"], rows)
    if args.no_write:
        print(body)
    else:
        publish("Training throughput with camera-noise synthesis", body,
                "Same config, XLA off, with and without dataset.camera_noise (made in the prefetch "
                "thread with numpy / OpenCV while TensorFlow trains on both cores).")


if __name__ == "__main__":
    main()
