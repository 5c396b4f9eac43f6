"""docs/video_trust.jpg: what the video model takes from the past. A Kodak24 scene (a still
background with an object crossing it) at sigma 25 after 7 frames: the noisy frame, the output
of edge_color_realtime alone, the output of edge_color_video, and the share of each output pixel
that came from the past (VideoDenoiser.past_share: white = all from the past, black = none).
Usage: python tools/video_trust_figure.py [--scene object] [--sigma 25] [--output PATH]"""
from __future__ import annotations

import argparse
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bfcnn.evaluation import add_noise, load_set, psnr  # noqa: E402
from bfcnn.runtime import Denoiser, VideoDenoiser  # noqa: E402
from bfcnn.video_scenes import SCENES, scene  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--scene", default="object", choices=SCENES)
    p.add_argument("--sigma", type=float, default=25.0)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--output", default=os.path.join("docs", "video_trust.jpg"))
    args = p.parse_args()
    imgs = [im if im.shape[1] >= im.shape[0] else np.ascontiguousarray(np.rot90(im)) for im in load_set("Kodak24", limit=2)]
    clean = scene(args.scene, imgs[0], imgs[1], frames=args.frames, size=(240, 320))
    rng = np.random.default_rng(0)
    noisy = [add_noise(c, args.sigma, rng) for c in clean]
    video = VideoDenoiser(num_threads=2)
    for frame in noisy[:-1]:
        video(frame)
    share = video.past_share(noisy[-1])
    out = video(noisy[-1])
    alone = Denoiser("edge_color_realtime", num_threads=2)(noisy[-1])
    share_img = cv2.cvtColor(np.clip(np.rint(share * 255), 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    panels = [(noisy[-1], f"noisy {psnr(noisy[-1], clean[-1]):.2f} dB"),
              (alone, f"frame alone {psnr(alone, clean[-1]):.2f} dB"),
              (out, f"with the past {psnr(out, clean[-1]):.2f} dB"),
              (share_img, f"from the past: {share.mean():.0%} on average")]
    row = []
    for img, label in panels:
        img = img.copy()
        cv2.rectangle(img, (0, 0), (img.shape[1], 22), (0, 0, 0), -1)
        cv2.putText(img, label, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        row.append(img)
    cv2.imwrite(args.output, np.hstack(row), [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
