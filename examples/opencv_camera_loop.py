"""An OpenCV capture loop with the denoiser in it: a camera index or a video file.
Usage: python examples/opencv_camera_loop.py [--source 0 | --source clip.mp4] [--max-frames N] [--show]"""
import argparse
import os
import time

import cv2
import numpy as np

from bfcnn.runtime import Denoiser

SAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bfcnn", "samples")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--source", default=os.path.join(SAMPLES, "sample_clip.mp4"))
    p.add_argument("--max-frames", type=int, default=100)
    p.add_argument("--show", action="store_true", help="open a window (needs a display)")
    args = p.parse_args()
    if args.show:
        from bfcnn.runtime.sinks import window_problem
        problem = window_problem()
        if problem:
            raise SystemExit(f"--show: {problem}")
    source = int(args.source) if args.source.isdigit() else args.source
    cap = cv2.VideoCapture(source)
    if not cap.isOpened():
        raise SystemExit(f"cannot open {args.source!r}")
    den = Denoiser("edge_color_realtime", num_threads=2)
    n, start = 0, time.perf_counter()
    while n < args.max_frames:
        ok, frame = cap.read()  # uint8 BGR
        if not ok:
            break
        clean = den(frame)
        n += 1
        if args.show:
            cv2.imshow("noisy | denoised", np.hstack([frame, clean]))
            if cv2.waitKey(1) & 0xFF == ord("q"):
                break
    cap.release()
    print(f"{n} frames at {n / (time.perf_counter() - start):.1f} frames/s")


if __name__ == "__main__":
    main()
