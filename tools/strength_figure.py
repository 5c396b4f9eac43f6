"""docs/strength.png: one real noisy photo (a PolyU100 crop, with its copyright notice) denoised at
a few strengths, each panel with its PSNR against the mean-of-500-shots reference.
Usage: python tools/strength_figure.py [--model NAME] [--pair INDEX] [--crop Y X SIZE] [--output PATH]"""
from __future__ import annotations

import argparse
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bfcnn.evaluation import psnr, real_pairs  # noqa: E402
from bfcnn.runtime import Denoiser  # noqa: E402

STRENGTHS = (0.0, 0.5, 1.0, 1.5)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", default=None, help="default: the default model")
    p.add_argument("--pair", type=int, default=40, help="index of the PolyU100 pair (sorted by name)")
    p.add_argument("--crop", type=int, nargs=3, default=[120, 120, 256], metavar=("Y", "X", "SIZE"))
    p.add_argument("--output", default=os.path.join("docs", "strength.png"))
    args = p.parse_args()
    name, noisy, ref = real_pairs(1, offset=args.pair)[0]
    y, x, n = args.crop
    noisy, ref = noisy[y:y + n, x:x + n], ref[y:y + n, x:x + n]
    panels = []
    for s in STRENGTHS:
        out = Denoiser(args.model, num_threads=2, strength=s)(noisy)
        tile = np.vstack([np.zeros((22, n, 3), np.uint8), out])
        label = f"strength {s:g}: {psnr(out, ref):.2f} dB" if s else f"noisy: {psnr(noisy, ref):.2f} dB"
        cv2.putText(tile, label, (4, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
        panels.append(tile)
    strip = np.hstack(panels)
    note = np.full((22, strip.shape[1], 3), 255, np.uint8)
    cv2.putText(note, f"PolyU real-noise dataset ({name}), (c) The Hong Kong Polytechnic University; "
                "non-commercial use", (4, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.imwrite(args.output, np.vstack([strip, note]))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
