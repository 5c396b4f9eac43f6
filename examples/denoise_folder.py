"""Denoise every image in a folder, keeping names and formats.
Usage: python examples/denoise_folder.py --input DIR --output DIR"""
import argparse
import os

import cv2

from bfcnn.runtime import Denoiser

SAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bfcnn", "samples")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--input", default=SAMPLES)
    p.add_argument("--output", default="denoised")
    p.add_argument("--model", default="edge_color_realtime")
    args = p.parse_args()
    den = Denoiser(args.model)  # built once, reused for every image
    os.makedirs(args.output, exist_ok=True)
    for name in sorted(os.listdir(args.input)):
        img = cv2.imread(os.path.join(args.input, name))
        if img is None:
            continue  # not an image
        cv2.imwrite(os.path.join(args.output, name), den(img))
        print(f"{name}: {img.shape[1]}x{img.shape[0]}")


if __name__ == "__main__":
    main()
