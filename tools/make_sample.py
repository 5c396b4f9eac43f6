"""Regenerate the bundled sample clip and image (bfcnn/samples/): a slow pan over the
public-domain NASA "astronaut" photograph shipped with scikit-image, with camera-like
Gaussian noise (sigma 20, rounded and clipped to uint8). Run: python tools/make_sample.py
"""
import os

import cv2
import numpy as np
from skimage import data

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bfcnn", "samples")
SIGMA, W, H, FRAMES, FPS = 20.0, 320, 240, 24, 12


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    rgb = data.astronaut()
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    big = cv2.resize(bgr, (480, 480), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(0)

    def noisy(img):
        return np.clip(np.rint(img + rng.normal(0, SIGMA, img.shape)), 0, 255).astype(np.uint8)

    writer = cv2.VideoWriter(os.path.join(OUT, "sample_clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (W, H))
    for i in range(FRAMES):
        x = int(round(i * (480 - W) / (FRAMES - 1)))
        y = int(round(i * (480 - H) / (FRAMES - 1)))
        writer.write(noisy(big[y:y + H, x:x + W]))
    writer.release()
    cv2.imwrite(os.path.join(OUT, "sample_image.png"), noisy(big[100:340, 80:400]))
    cv2.imwrite(os.path.join(OUT, "sample_image_clean.png"), big[100:340, 80:400])


if __name__ == "__main__":
    main()
