"""bfcnn-runtime: denoise images, folders, videos, a camera or a Pi camera with a shipped or
exported model.

With no source it denoises the sample clip bundled in the package and says where the
output went. Files: every frame in order, with a progress bar. Cameras: always the newest
frame (late frames are dropped and counted, so latency stays bounded). Output never
overwrites an input; Ctrl-C finishes the current video file so it plays.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Iterator, List, Optional, Tuple

import numpy as np

from bfcnn.runtime.averaging import AveragingDenoiser
from bfcnn.runtime.outputs import Inputs, out_path
from bfcnn.runtime.pipeline import Interrupts, StreamStats, named, run_stream
from bfcnn.runtime.sources import (DEFAULT_MAX_PIXELS, SourceError, expand_inputs, is_video, read_image,
                                   video_frames)
from bfcnn.zoo import DEFAULT_MODEL, ModelError

SAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "samples")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bfcnn-runtime", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--input", help="image, video, folder or glob (default: the bundled sample clip), "
                     "or a live stream: rtsp://, http:// (MJPEG), ... URL")
    src.add_argument("--gstreamer", metavar="PIPELINE",
                     help="a GStreamer pipeline ending in appsink (a Jetson CSI camera); it runs as given, "
                          "so pass only pipelines you trust (never a user's text)")
    src.add_argument("--camera", type=int, help="OpenCV camera index (e.g. 0)")
    src.add_argument("--picamera2", action="store_true", help="Raspberry Pi camera through Picamera2")
    src.add_argument("--synthetic", action="store_true",
                     help="a generated noisy live source (try the pipeline without a camera)")
    p.add_argument("--picamera2-stream", choices=("main", "lores"), default="main",
                   help="Picamera2 stream: main (BGR) or lores (YUV420; luma only for gray models)")
    p.add_argument("--picamera2-isp-denoise", choices=("off", "fast", "high_quality", "minimal"), default="fast",
                   help="the Pi ISP's own noise reduction (libcamera NoiseReductionMode); default fast: "
                        "free in hardware, and the models are trained on noise with and without it")
    p.add_argument("--output", help="output file (one input / live source) or folder (default: ./bfcnn_output)")
    p.add_argument("--model", default=DEFAULT_MODEL, help="shipped name or exported model path: denoises images, "
                   "and the frames of videos and cameras after frame averaging")
    p.add_argument("--no-temporal", action="store_true",
                   help="videos and cameras: denoise each frame alone with --model (by default each frame is "
                        "first blended into an average of the frames before it where the scene holds still)")
    p.add_argument("--quantization", default=None,
                   help="which file of the model: none (float32, exact; the default), dynamic (int8 weights, "
                        "int8 activations per frame: faster on most Arm boards, -0.06 dB; the speed-up depends "
                        "on the CPU, measure it with benchmarks/speed.py), float16, or int8 (full integer, "
                        "where the model has one)")
    p.add_argument("--threads", type=int, default=None, help="inference threads (default: all cores)")
    p.add_argument("--backend", choices=("litert", "onnxruntime"), default="litert",
                   help="litert (default), or onnxruntime: the model's ONNX file on TensorRT, CUDA or CPU")
    p.add_argument("--tile", type=int, default=None, help="tile side in pixels (default: auto)")
    p.add_argument("--ensemble", type=int, default=1, choices=(1, 2, 4, 8),
                   help="average N passes over flipped / rotated copies of each frame: N times the "
                        "time for more quality (gains per model: benchmarks/RESULTS.md; default 1: real time)")
    p.add_argument("--shuffle", action="store_true",
                   help="photos with a camera's correlated noise: pixel-shuffle downsampling, 2x the time "
                        "(gain and loss measured in benchmarks/RESULTS.md); frames denoised alone only")
    p.add_argument("--strength", type=float, default=1.0,
                   help="0-1.5: output = noisy + strength * (denoised - noisy); below 1 keeps more "
                        "detail and grain, above 1 smooths more (default 1)")
    p.add_argument("--max-frames", type=int, default=None,
                   help="stop after N frames (from a live source: N processed; late frames are dropped)")
    p.add_argument("--max-pixels", type=float, default=DEFAULT_MAX_PIXELS,
                   help="refuse images that decode to more pixels than this (default 1e8: a small "
                        "compressed file can decode to gigabytes)")
    p.add_argument("--width", type=int, default=640, help="camera width")
    p.add_argument("--height", type=int, default=480, help="camera height")
    p.add_argument("--fps", type=float, default=30, help="camera fps")
    view = p.add_mutually_exclusive_group()
    view.add_argument("--display", action="store_true",
                      help="show a window: noisy | denoised, fps and latency (keys: q quit, s split, o overlay)")
    view.add_argument("--no-display", action="store_true", help="headless (the default): never open a window")
    p.add_argument("--split", action="store_true", help="split view instead of side by side")
    p.add_argument("--serve", metavar="[HOST:]PORT",
                   help="serve the view as MJPEG at http://HOST:PORT/ (HOST defaults to 127.0.0.1: this machine "
                        "only; 0.0.0.0:PORT serves every network, without a password)")
    p.add_argument("--stats", metavar="FILE", help="write the run's statistics as JSON (with the noise the "
                   "stream measured)")
    p.add_argument("--calibrate", metavar="FILE",
                   help="measure the camera's noise (level per intensity, correlation) on a still scene "
                        "and save it as FILE (JSON); e.g. --camera 0 --max-frames 90 --calibrate cam.json")
    p.add_argument("--noise-profile", metavar="FILE", nargs="+",
                   help="profile(s) saved by --calibrate: frame averaging gates the first frames with it, "
                        "and a noise-conditioned --model (edge_color_noisemap) is told it instead of "
                        "estimating each frame's noise (of several, the one measured at the camera's "
                        "nearest analogue gain)")
    p.add_argument("--explain-pixel", metavar="X,Y",
                   help="with --display/--serve: inset the adaptive filter of this pixel, refreshed in "
                        "the background (costs CPU: see benchmarks/RESULTS.md); it is --model's filter, "
                        "the still model's")
    return p


def _check_numbers(args: argparse.Namespace) -> None:
    """Refuse numbers that cannot mean what the user wants, naming the valid range."""
    import math
    from bfcnn.runtime.frames import MAX_THREADS
    if not (math.isfinite(args.fps) and 0 < args.fps <= 1000):
        raise ValueError(f"--fps must be a number in (0, 1000], got {args.fps}")
    if args.threads is not None and not 1 <= args.threads <= MAX_THREADS:
        raise ValueError(f"--threads must be in 1..{MAX_THREADS} (this machine has {os.cpu_count()} "
                         f"cores), got {args.threads}")
    if args.max_frames is not None and args.max_frames < 1:
        raise ValueError(f"--max-frames must be >= 1 (leave it out for every frame), got {args.max_frames}")
    for name in ("width", "height"):
        if not 1 <= getattr(args, name) <= 16384:
            raise ValueError(f"--{name} must be in 1..16384, got {getattr(args, name)}")
    if args.tile is not None and args.tile < 1:
        raise ValueError(f"--tile must be >= 1 (leave it out for whole frames), got {args.tile}")
    if not (math.isfinite(args.max_pixels) and args.max_pixels >= 1):
        raise ValueError(f"--max-pixels must be a number >= 1, got {args.max_pixels}")
    if not math.isfinite(args.strength):
        raise ValueError(f"--strength must be a number in [0, 1.5], got {args.strength}")


def _probe(args):
    if not args.explain_pixel:
        return None
    if not (args.display or args.serve):
        raise ValueError("--explain-pixel draws on the view: add --display or --serve")
    try:
        x, y = (int(v) for v in args.explain_pixel.split(","))
    except ValueError:
        raise ValueError(f"--explain-pixel {args.explain_pixel!r}: expected X,Y, e.g. 320,240") from None
    sized = args.camera is not None or args.picamera2 or args.synthetic     # frames of --width x --height
    if x < 0 or y < 0 or (sized and (x >= args.width or y >= args.height)):
        raise ValueError(f"--explain-pixel {x},{y} is outside the {args.width}x{args.height} frames: X in "
                         f"0..{args.width - 1}, Y in 0..{args.height - 1}" if sized else
                         f"--explain-pixel {x},{y}: X and Y count from 0")
    from bfcnn.runtime.live_explain import FilterProbe
    return FilterProbe(args.model, (x, y))


def serve_hint(url: str) -> str:
    """What the start line adds for a view served on this machine only (a Pi watched from a
    laptop needs the network address, and should know what that exposes)."""
    if not url.startswith(("http://127.", "http://localhost")):
        return " (any machine that can reach this address sees the view: no password, no TLS)"
    port = url.rstrip("/").rsplit(":", 1)[1]
    return (f" (this machine only; to watch from another one: --serve 0.0.0.0:{port}, then "
            f"http://<this machine's address>:{port}/; anyone on that network sees the view)")


def _view_sinks(args) -> list:
    from bfcnn.runtime.sinks import DisplaySink, View
    sinks = []
    view = View(split=args.split, probe=args.probe)     # rendered once per frame for both
    if args.display:
        sinks.append(DisplaySink(view=view))
    if args.serve:
        from bfcnn.runtime.mjpeg import MjpegSink
        server = MjpegSink(args.serve, view=view)
        print(f"serving the view at {server.url}{serve_hint(server.url)}", file=sys.stderr)
        sinks.append(server)
    return sinks


def _images(paths: List[str], skipped: List[str], max_pixels: int) -> Iterator[Tuple[str, np.ndarray]]:
    for path in paths:
        try:
            img, notes = read_image(path, max_pixels)
        except SourceError as exc:
            print(f"skipping {path}: {exc}", file=sys.stderr)
            skipped.append(path)
            continue
        for note in notes:
            print(f"note: {path}: {note}", file=sys.stderr)
        yield path, img


def _live_source(args, gray: bool):
    from bfcnn.runtime import cameras
    if args.camera is not None:
        return cameras.CameraSource(args.camera, args.width, args.height, args.fps)
    if args.gstreamer is not None:
        return cameras.CameraSource(args.gstreamer, fps=args.fps, gstreamer=True)
    if args.input is not None:     # a network stream (is_stream)
        return cameras.CameraSource(args.input, fps=args.fps, max_pixels=args.max_pixels)
    if args.picamera2:
        return cameras.Picamera2Source(args.width, args.height, args.fps, args.picamera2_stream,
                                       gray=gray, isp_denoise=args.picamera2_isp_denoise)
    return cameras.SyntheticCamera(args.width, args.height, args.fps, count=None)


def _finish(stats: StreamStats, args, what: str) -> int:
    print(f"{what}: {stats.summary()}", file=sys.stderr)
    if args.stats:
        stats.to_json(args.stats)
    if stats.interrupted:
        print("interrupted: outputs written so far are complete and playable", file=sys.stderr)
        return 130
    return 0


def _noise_profile(args, settings: Optional[dict] = None):
    """Of the --noise-profile files (read once, in run()), the one measured nearest the source's
    gain (`settings`), or None."""
    if not args.profiles:
        return None
    from bfcnn.runtime import noise
    profile = noise.nearest(args.profiles, settings or {})
    if len(args.profiles) > 1:
        print(f"noise profile: {profile.camera or 'saved'} at {profile.settings}", file=sys.stderr)
    return profile


def _video_denoiser(args, den, profile=None):
    """The stream denoiser for videos and cameras: frame averaging before --model (it starts
    from `profile`, the saved noise profile picked for the source), or None with --no-temporal."""
    if args.no_temporal:
        return None
    for flag, on in (("--ensemble", args.ensemble != 1), ("--shuffle", args.shuffle)):
        if on:
            raise ValueError(f"{flag} applies to frames denoised alone; add --no-temporal")
    return AveragingDenoiser(still=den, strength=args.strength, noise_profile=profile)


def _temporal_stats(stats: StreamStats, video, args, settings: Optional[dict] = None) -> StreamStats:
    """The stream denoiser's counts and measured noise in the run's statistics; with --calibrate,
    that noise saved too."""
    if video is not None:
        stats.temporal_model = video.label
        stats.temporal_restarts, stats.temporal_cuts = video.stats.restarts, video.stats.cuts
    profile = video.noise if video is not None else None
    if profile is not None:
        stats.noise = profile.to_dict()
    if args.calibrate:
        _save_calibration(profile, args, settings or {})
    return stats


def _save_calibration(profile, args, settings: dict) -> None:
    """--calibrate FILE: the stream's measured profile with the camera and its settings."""
    from dataclasses import replace
    if profile is None or profile.frames < 2:
        raise ValueError(f"--calibrate {args.calibrate}: no noise measured ({0 if profile is None else profile.frames} "
                         f"frames compared): give it a few seconds of a still scene (e.g. --max-frames 90) "
                         f"with frame averaging on (not --no-temporal), from a source that has noise")
    settings = {"width": float(args.width), "height": float(args.height), "fps": float(args.fps), **settings}
    camera = (f"picamera2 (isp denoise {args.picamera2_isp_denoise})" if args.picamera2
              else f"camera {args.camera}" if args.camera is not None else args.input or "synthetic")
    replace(profile, camera=str(camera), settings=settings, source="calibration").save(args.calibrate)
    print(f"saved the noise profile to {args.calibrate} (std {255 * profile.sigma:.2f} grey levels at "
          f"mid intensity, correlation {', '.join(f'{c:.2f}' for c in profile.correlation)})", file=sys.stderr)


def _run_live(den, args) -> int:
    from bfcnn.runtime.sinks import VideoSink
    source = _live_source(args, gray=den.card.channels == 1)
    try:
        # the camera's gain picks the saved noise profile; calibration records it
        profile = _noise_profile(args, source.settings())
        if den.card.noise_input and profile is not None:   # also frames denoised alone (--no-temporal)
            den.noise = profile
        video = _video_denoiser(args, den, profile)
        sinks = _view_sinks(args)
        if args.output:
            sinks.append(VideoSink(args.output, args.fps, keep_time=True))
        if not sinks:
            print("note: no --output, --display or --serve: frames are denoised and counted only", file=sys.stderr)
        stats = run_stream(named(source.frames(), "live"), video or den, sinks, live=True,
                           max_frames=args.max_frames)
        settings = source.settings() if args.calibrate else None
    finally:
        source.close()
    if stats.processed == 0 and not stats.interrupted:
        print(f"error: the live source gave no frame{'; nothing written to ' + args.output if args.output else ''}",
              file=sys.stderr)
        return 1
    if args.output:
        print(f"wrote {args.output} ({stats.processed} frames denoised)")
    return _finish(_temporal_stats(stats, video, args, settings), args, "live")


def run(args: argparse.Namespace) -> int:
    from bfcnn.runtime.denoiser import Denoiser
    _check_numbers(args)
    try:
        den = Denoiser(args.model, num_threads=args.threads, tile=args.tile, quantization=args.quantization,
                       ensemble=args.ensemble, strength=args.strength, backend=args.backend, shuffle=args.shuffle)
    except ModelError as exc:
        raise ModelError(f"--model {args.model}: {exc}") from None
    from bfcnn.runtime import noise
    args.profiles = [noise.load(f) for f in args.noise_profile or []]
    if den.card.noise_input and args.profiles:
        den.noise = noise.nearest(args.profiles, {})
    args.probe = _probe(args)
    try:
        return _run(den, args)
    finally:
        if args.probe is not None:
            args.probe.close()
            print(args.probe.summary(), file=sys.stderr)


def _run(den, args) -> int:
    from bfcnn.runtime.sinks import ImageSink, VideoSink
    from bfcnn.runtime.cameras import is_stream
    if args.camera is not None or args.picamera2 or args.synthetic or args.gstreamer is not None \
            or (args.input and is_stream(args.input)):
        return _run_live(den, args)
    inputs = Inputs(expand_inputs(args.input) if args.input else [os.path.join(SAMPLES, "sample_clip.mp4")])
    single = len(inputs) == 1
    videos = [p for p in inputs if is_video(p)]
    images = [p for p in inputs if not is_video(p)]
    total = StreamStats()
    remaining = args.max_frames
    skipped: List[str] = []
    video = _video_denoiser(args, den, _noise_profile(args)) if videos else None
    for inp in videos:
        out = out_path(inp, args.output, single, inputs)
        try:
            info, frames = video_frames(inp, args.max_pixels)
        except SourceError as exc:   # one bad file does not end the batch
            print(f"skipping {inp}: {exc}", file=sys.stderr)
            skipped.append(inp)
            continue
        count = min(info.frames, remaining) if remaining is not None else info.frames
        if video is not None:
            video.reset()     # a new file: no past
        stats = run_stream(named(frames, inp), video or den, [VideoSink(out, info.fps)] + _view_sinks(args),
                           live=False, max_frames=remaining, progress_total=count,
                           progress_label=os.path.basename(inp))
        if stats.processed == 0:
            print(f"skipping {inp}: no frame could be decoded", file=sys.stderr)
            skipped.append(inp)
            continue
        print(f"wrote {out} ({stats.processed} frames)")
        if stats.processed < count and not stats.interrupted:
            print(f"warning: {inp} ended after {stats.processed} of the {count} frames its header "
                  f"announces (truncated or damaged file)", file=sys.stderr)
            skipped.append(inp)
        total = total + stats
        remaining = None if remaining is None else remaining - stats.processed
        if stats.interrupted or (remaining is not None and remaining <= 0):
            break
    if images and not total.interrupted and (remaining is None or remaining > 0):
        sink = ImageSink(lambda name: out_path(name, args.output, single, inputs))
        stats = run_stream(_images(images, skipped, args.max_pixels), den, [sink] + _view_sinks(args), live=False,
                           max_frames=remaining, progress_total=len(images) if len(images) > 1 else None,
                           progress_label="images")
        total = total + stats
    code = _finish(_temporal_stats(total, video, args), args,
                   f"{den.card.name} ({den.quantization}, {den.backend}, {den.num_threads} threads)")
    if skipped and code == 0:
        print(f"error: {len(skipped)} input(s) skipped or incomplete (listed above); the others were "
              f"written", file=sys.stderr)
        return 1
    return code


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    with Interrupts():     # a second Ctrl-C or SIGTERM while the outputs are finished is ignored
        try:
            return run(args)
        except (SourceError, ModelError, ValueError, OSError, ImportError) as exc:   # OSError: permission denied, disk full; ImportError: an optional backend missing
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            return 130


def console() -> None:
    """`bfcnn-runtime` and `python -m bfcnn.runtime.cli`: main() as a process. Once a Ctrl-C or
    SIGTERM arrived, the process ignores further ones until it has exited with 130."""
    with Interrupts(ignore_after_signal=True):
        code = main()
    sys.exit(code)


if __name__ == "__main__":
    console()
