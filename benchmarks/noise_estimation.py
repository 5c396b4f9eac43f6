"""How well bfcnn.runtime.noise.estimate reads a camera's noise from one photo: its noise std
(at the median intensity, mean over channels) and correlation (std after 2x2 means over white
noise's) against the truth measured on the photo's pair (noise.from_pair: noisy minus clean).

Sets: white and blurred Gaussian noise and the trainer's synthesized camera noise on CBSD432
crops (where the estimator's two corrections were fitted), and PolyU100 (real photos, five
DSLRs; evaluation only).

    python benchmarks/noise_estimation.py            # writes its section of RESULTS.md
"""
from __future__ import annotations

import argparse
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.report import publish, table  # noqa: E402
from benchmarks.video import _synthetic_residuals  # noqa: E402
from bfcnn.evaluation import real_pairs, set_folder  # noqa: E402
from bfcnn.runtime import noise  # noqa: E402


def _gaussian(count: int, blur: float, sigma: float = 6.0):
    folder = set_folder("CBSD432")
    rng = np.random.default_rng(int(blur * 10))
    out = []
    for f in sorted(os.listdir(folder))[40:40 + count]:
        im = cv2.imread(os.path.join(folder, f))
        n = rng.standard_normal(im.shape).astype(np.float32)
        if blur:
            n = cv2.GaussianBlur(n, (0, 0), blur).reshape(im.shape)
        out.append((np.clip(np.rint(im + n * np.float32(sigma) / n.std()), 0, 255).astype(np.uint8), im))
    return out


def row(label: str, pairs) -> list:
    r = []
    for noisy, clean in pairs:
        est, true = noise.estimate(noisy), noise.from_pair(noisy, clean)
        r.append((est.sigma / true.sigma, est.correlation[0], true.correlation[0], 255 * true.sigma))
    a = np.asarray(r)
    return [label, len(pairs), float(np.median(a[:, 3])), float(np.median(a[:, 0])),
            f"{np.percentile(a[:, 0], 10):.2f}-{np.percentile(a[:, 0], 90):.2f}",
            float(np.median(a[:, 2])), float(np.median(a[:, 1]))]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=12, help="CBSD432 crops per synthetic set")
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args()
    rows = [row("white Gaussian, std 6 (CBSD432)", _gaussian(args.count, 0.0)),
            row("blurred Gaussian, 0.8 px (CBSD432)", _gaussian(args.count, 0.8)),
            row("synthesized camera noise (CBSD432)",
                [((t + r).clip(0, 255).astype(np.uint8), t) for _, t, r in _synthetic_residuals(args.count)]),
            row("PolyU100 (real photos)", [(noisy, ref) for _, noisy, ref in real_pairs()])]
    body = table(["noise", "photos", "true std (grey levels, median)", "estimated / true std (median)",
                  "(10-90th percentile)", "true correlation (median)", "estimated correlation (median)"], rows)
    if args.no_write:
        print(body)
        return
    publish("Noise estimation from one photo", body,
            "bfcnn.runtime.noise.estimate against noise.from_pair on the same photo; std at the median "
            "intensity, mean over channels; correlation 1 = white.")


if __name__ == "__main__":
    main()
