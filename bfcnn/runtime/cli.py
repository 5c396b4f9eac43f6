"""bfcnn-runtime: denoise images, folders, videos or a camera with a shipped or exported model.

With no source it denoises the sample clip bundled in the package and says where the
output went. Output never overwrites an input; Ctrl-C finishes the current video file.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import List, Optional

import cv2
import numpy as np

from bfcnn.runtime.sources import (SourceError, expand_inputs, is_video, read_image, video_frames,
                                   CameraSource)
from bfcnn.zoo import ModelError

SAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "samples")
DEFAULT_MODEL = "edge_color_realtime"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bfcnn-runtime", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--input", help="image, video, folder or glob (default: the bundled sample clip)")
    src.add_argument("--camera", type=int, help="OpenCV camera index (e.g. 0)")
    p.add_argument("--output", help="output file (one input) or folder (default: ./bfcnn_output)")
    p.add_argument("--model", default=DEFAULT_MODEL, help="shipped name or exported model path")
    p.add_argument("--quantization", default=None, help="model file: none (float32), int8, ...")
    p.add_argument("--threads", type=int, default=None, help="LiteRT threads (default: all cores)")
    p.add_argument("--tile", type=int, default=None, help="tile side in pixels (default: auto)")
    p.add_argument("--max-frames", type=int, default=None, help="stop after N frames")
    p.add_argument("--width", type=int, default=640, help="camera width")
    p.add_argument("--height", type=int, default=480, help="camera height")
    p.add_argument("--fps", type=float, default=30, help="camera fps")
    p.add_argument("--no-display", action="store_true", help="headless: never open a window")
    return p


def _out_path(inp: str, output: Optional[str], single: bool, inputs: List[str]) -> str:
    if output and single and not os.path.isdir(output) and os.path.splitext(output)[1]:
        path = output
    else:
        folder = output or "bfcnn_output"
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, os.path.basename(inp))
    if os.path.abspath(path) in {os.path.abspath(i) for i in inputs}:
        raise SourceError(f"output {path} would overwrite an input; choose another --output")
    return path


def _denoise_video(den, inp: str, out: str, max_frames: Optional[int]) -> int:
    from tqdm import tqdm
    info, frames = video_frames(inp)
    tmp = out + ".part" + os.path.splitext(out)[1]
    writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"mp4v"), info.fps, (info.width, info.height))
    if not writer.isOpened():
        raise SourceError(f"cannot write video {out}; use a .mp4 or .avi name")
    n = 0
    total = min(info.frames, max_frames) if max_frames else info.frames
    try:
        for frame in tqdm(frames, total=total or None, unit="frame", desc=os.path.basename(inp), file=sys.stderr):
            if max_frames is not None and n >= max_frames:
                break
            writer.write(den(frame))
            n += 1
    except KeyboardInterrupt:
        print(f"\ninterrupted: {out} keeps the {n} frames written so far", file=sys.stderr)
        raise
    finally:
        writer.release()
        os.replace(tmp, out)  # finished (or interrupted) file is playable either way
    return n


def run(args: argparse.Namespace) -> int:
    from bfcnn.runtime.denoiser import Denoiser
    den = Denoiser(args.model, num_threads=args.threads, tile=args.tile, quantization=args.quantization)
    if args.camera is not None:
        return _run_camera(den, args)
    inputs = expand_inputs(args.input) if args.input else [os.path.join(SAMPLES, "sample_clip.mp4")]
    single = len(inputs) == 1
    frames = 0
    started = time.perf_counter()
    for inp in inputs:
        out = _out_path(inp, args.output, single, inputs)
        if is_video(inp):
            frames += _denoise_video(den, inp, out, args.max_frames)
        else:
            img = read_image(inp)
            if img is None:
                print(f"skipping {inp}: not a readable 8/16-bit image", file=sys.stderr)
                continue
            if not cv2.imwrite(out, den(img)):
                raise SourceError(f"cannot write {out}")
            frames += 1
        print(f"wrote {out}")
        if args.max_frames is not None and frames >= args.max_frames:
            break
    seconds = time.perf_counter() - started
    print(f"{frames} frames in {seconds:.1f} s ({frames / max(seconds, 1e-9):.1f} frames/s) "
          f"with {den.card.name} ({den.quantization}, {den.num_threads} threads)")
    return 0


def _run_camera(den, args) -> int:
    cam = CameraSource(args.camera, args.width, args.height, args.fps)
    writer, n, started = None, 0, time.perf_counter()
    try:
        for frame in cam.frames():
            out = den(frame)
            if args.output:
                if writer is None:
                    writer = cv2.VideoWriter(args.output, cv2.VideoWriter_fourcc(*"mp4v"), args.fps,
                                             (out.shape[1], out.shape[0]))
                writer.write(out)
            if not args.no_display:
                cv2.imshow("bfcnn: noisy | denoised", np.hstack([frame, out]))
                if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                    break
            n += 1
            if args.max_frames is not None and n >= args.max_frames:
                break
    except KeyboardInterrupt:
        pass
    finally:
        cam.close()
        if writer is not None:
            writer.release()
    print(f"{n} frames, {n / max(time.perf_counter() - started, 1e-9):.1f} frames/s")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return run(args)
    except (SourceError, ModelError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
