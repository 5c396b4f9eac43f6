"""A stream denoised with the frames before it: frame averaging (AveragingDenoiser) against
denoising each frame alone.

A still camera watching the bundled sample scene, fresh noise (sigma 25) every frame: the
averaged output gets cleaner as frames arrive; the still model alone stays where it is.
Usage: python examples/video_stream.py [--frames 12] [--sigma 25]"""
import argparse
import os

import cv2
import numpy as np

from bfcnn.runtime import AveragingDenoiser, Denoiser

SAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bfcnn", "samples")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0 ** 2 / np.mean((a.astype(np.float64) - b) ** 2)))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--frames", type=int, default=12)
    p.add_argument("--sigma", type=float, default=25.0)
    args = p.parse_args()
    clean = cv2.imread(os.path.join(SAMPLES, "sample_image_clean.png"))      # uint8 BGR
    still = Denoiser("edge_color_realtime", num_threads=2)
    averaging = AveragingDenoiser(num_threads=2)  # frames averaged where still, then the still model; reset() starts over
    rng = np.random.default_rng(0)
    rows = []
    for t in range(args.frames):
        noisy = np.clip(np.rint(clean + args.sigma * rng.standard_normal(clean.shape)), 0, 255).astype(np.uint8)
        rows.append((psnr(still(noisy), clean), psnr(averaging(noisy), clean)))
        print(f"frame {t:2d}: alone {rows[-1][0]:.2f} dB, averaged {rows[-1][1]:.2f} dB")
    late = np.mean(rows[5:], axis=0)
    print(f"after frame 5: alone {late[0]:.2f} dB, with the frames before {late[1]:.2f} dB "
          f"({averaging.stats.frames} frames, {averaging.stats.restarts} restart)")


if __name__ == "__main__":
    main()
