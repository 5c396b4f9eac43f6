"""Pyramid benchmark: 4 levels of uint8 -> float32 scaled by 1/255, at 640x480 and 1920x1080,
gray and BGR: the C++ op vs OpenCV (convertTo + a loop of cv2.pyrDown) vs numpy, same run.
The C++ op runs with --threads too (rows of levels 0-1 in parallel bands); OpenCV with
cv2.setNumThreads(--threads). Ratios above 1 mean the C++ op is faster.
Usage: python benchmarks/pyramid.py [--threads 2]"""
import argparse
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.report import best_of, publish, table  # noqa: E402
from bfcnn.runtime import pyramid  # noqa: E402


def opencv_sequence(img, levels, scale):
    out = [img.astype(np.float32) * np.float32(scale)]  # what convertTo(alpha=scale) does
    for _ in range(1, levels):
        out.append(cv2.pyrDown(out[-1]))
    return out


def opencv_into(img, scale, bufs):
    """The same into preallocated buffers (cv2's dst= arguments): OpenCV's best case."""
    np.multiply(img, np.float32(scale), out=bufs[0], casting="unsafe")
    for k in range(1, len(bufs)):
        cv2.pyrDown(bufs[k - 1], dst=bufs[k])
    return bufs


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2, help="threads for both: cv2.setNumThreads and the C++ op's")
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args()
    cv2.setNumThreads(args.threads)
    rng = np.random.default_rng(0)
    rows = []
    for (w, h) in [(640, 480), (1920, 1080)]:
        for c in (1, 3):
            img = rng.integers(0, 256, (h, w, c) if c > 1 else (h, w), dtype=np.uint8)
            scale = 1.0 / 255.0
            t_cpp = best_of(lambda: pyramid.pyramid_down(img, 4, scale, backend="cpp", threads=args.threads))
            t_cv = best_of(lambda: opencv_sequence(img, 4, scale))
            t_np = best_of(lambda: pyramid.pyramid_down(img, 4, scale, backend="numpy"), repeats=5)
            shapes = [s + ((c,) if c > 1 else ()) for s in pyramid.level_shapes(h, w, 4)]
            bufs = [np.empty(s, np.float32) for s in shapes]
            cv_bufs = [np.empty(s, np.float32) for s in shapes]
            t_cpp_into = best_of(lambda: pyramid.pyramid_down(img, 4, scale, backend="cpp", out=bufs,
                                                                  threads=args.threads))
            t_cv_into = best_of(lambda: opencv_into(img, scale, cv_bufs))
            # the runtime's real job: levels inside the interpreter's input tensors. OpenCV builds
            # them in its own arrays and then they are copied in (set_tensor); the C++ op writes
            # them there directly (Denoiser does exactly this).
            tensors = [np.empty(s, np.float32) for s in shapes]

            def opencv_to_tensors():
                for dst, lvl in zip(tensors, opencv_into(img, scale, cv_bufs)):
                    np.copyto(dst, lvl)
            t_cv_tensors = best_of(opencv_to_tensors)
            rows.append([f"{w}x{h}", "BGR" if c == 3 else "gray", round(t_cpp * 1e3, 2), round(t_cv * 1e3, 2),
                         round(t_cv / t_cpp, 2), round(t_cpp_into * 1e3, 2), round(t_cv_into * 1e3, 2),
                         round(t_cv_into / t_cpp_into, 2), round(t_cv_tensors * 1e3, 2),
                         round(t_cv_tensors / t_cpp_into, 2), round(t_np * 1e3, 1)])
    body = table(["size", "channels", "C++ ms (new arrays)", "OpenCV ms (new arrays)", "OpenCV / C++",
                  "C++ ms (into buffers)", "OpenCV ms (into buffers)", "OpenCV / C++ (buffers)",
                  "OpenCV + copy into tensors ms", "vs C++ into tensors", "numpy ms"], rows)
    if args.no_write:
        print(body)
    else:
        publish(f"Pyramid: 4 levels, uint8 -> float32 x 1/255 ({args.threads} threads each)", body)


if __name__ == "__main__":
    main()
