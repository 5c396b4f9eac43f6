"""A Raspberry Pi camera loop with Picamera2 and the denoiser, headless: frames from the
camera, denoised, written to a video. On a gray model, use the lores YUV420 stream and feed
its luma plane straight in (no colour conversion at all).
Usage: python examples/picamera2_loop.py [--frames 100] [--output pi.mp4] [--gray]
Needs picamera2 (Raspberry Pi OS: sudo apt install python3-picamera2)."""
import argparse
import time

import cv2
from picamera2 import Picamera2

from bfcnn.runtime import Denoiser


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--output", default="pi_denoised.mp4")
    p.add_argument("--gray", action="store_true", help="gray model on the luma plane of lores YUV420")
    args = p.parse_args()
    w, h = 640, 480
    cam = Picamera2()
    if args.gray:
        config = cam.create_video_configuration(lores={"size": (w, h), "format": "YUV420"})
        model, stream = "edge_gray_realtime", "lores"
    else:
        config = cam.create_video_configuration(main={"size": (w, h), "format": "RGB888"})  # B,G,R bytes
        model, stream = "edge_color_realtime", "main"
    cam.configure(config)
    cam.start()
    den = Denoiser(model, num_threads=2)
    writer = cv2.VideoWriter(args.output, cv2.VideoWriter_fourcc(*"mp4v"), 30, (w, h), not args.gray)
    start = time.perf_counter()
    try:
        for _ in range(args.frames):
            frame = cam.capture_array(stream)
            frame = frame[:h, :w] if args.gray else frame[:, :w, :3]
            writer.write(den(frame))
    finally:
        writer.release()
        cam.stop()
        cam.close()
    print(f"{args.frames} frames at {args.frames / (time.perf_counter() - start):.1f} frames/s -> {args.output}")


if __name__ == "__main__":
    main()
