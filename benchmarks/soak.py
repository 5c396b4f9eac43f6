"""Soak the stream pipeline: N frames from a synthetic live source through the real Denoiser,
RSS sampled every 50 frames; reports RSS slope (KB per 1000 frames), latency drift, threads and
file descriptors before/after. Usage: python benchmarks/soak.py [--frames 20000] [--size 320x240]
[--model edge_color_realtime] [--no-write]"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from dataclasses import dataclass

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bfcnn.runtime import Denoiser  # noqa: E402
from bfcnn.runtime.cameras import SyntheticCamera  # noqa: E402
from bfcnn.runtime.pipeline import Frame, StopRun, named, run_stream  # noqa: E402


def rss_kb() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class Sampler:
    def __init__(self, frames: int, every: int = 50) -> None:
        self.frames, self.every, self.n, self.rss = frames, every, 0, []

    def write(self, frame: Frame) -> None:
        self.n += 1
        if self.n % self.every == 0:
            self.rss.append((self.n, rss_kb()))
        if self.n >= self.frames:
            raise StopRun()

    def close(self) -> None:
        pass


@dataclass
class SoakResult:
    frames: int
    seconds: float
    rss_start_kb: int
    rss_end_kb: int
    rss_slope_kb_per_1000: float
    latency_first_ms: float
    latency_last_ms: float
    dropped: int
    threads_before: int
    threads_after: int
    fds_before: int
    fds_after: int


def soak(frames: int, width: int, height: int, model: str = "edge_color_realtime", fps: float = 2000.0,
         warmup: int = 200) -> SoakResult:
    """Live policy (newest frame) with a fast synthetic camera: the denoiser is the bottleneck."""
    den = Denoiser(model, num_threads=2)
    den(np.zeros((height, width, 3), np.uint8))
    threads0, fds0 = threading.active_count(), open_fds()
    cam = SyntheticCamera(width, height, fps=fps, count=None)
    sampler = Sampler(frames)
    stats = run_stream(named(cam.frames(), "soak"), den, [sampler], live=True)
    cam.close()
    time.sleep(0.2)
    pts = np.array([p for p in sampler.rss if p[0] > warmup], np.float64)
    slope = float(np.polyfit(pts[:, 0], pts[:, 1], 1)[0] * 1000) if len(pts) > 2 else 0.0
    lat = np.array(stats.latencies_ms)
    k = max(10, len(lat) // 10)
    return SoakResult(stats.processed, stats.seconds, int(pts[0, 1]) if len(pts) else 0,
                      int(pts[-1, 1]) if len(pts) else 0, slope, float(np.median(lat[warmup // 10:warmup // 10 + k])),
                      float(np.median(lat[-k:])), stats.dropped, threads0, threading.active_count(), fds0, open_fds())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--frames", type=int, default=20000)
    p.add_argument("--size", default="320x240")
    p.add_argument("--model", default="edge_color_realtime")
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    r = soak(args.frames, w, h, args.model)
    from benchmarks.report import publish, table
    rows = [[args.model, f"{w}x{h}", r.frames, f"{r.seconds:.0f}", r.dropped, r.rss_start_kb // 1024, r.rss_end_kb // 1024,
             f"{r.rss_slope_kb_per_1000:.1f}", f"{r.latency_first_ms:.1f}", f"{r.latency_last_ms:.1f}",
             f"{r.threads_before}/{r.threads_after}", f"{r.fds_before}/{r.fds_after}"]]
    text = table(["model", "size", "frames processed", "s", "dropped", "RSS start MB", "RSS end MB",
                  "RSS slope KB/1000 frames", "latency p50 early ms", "latency p50 late ms",
                  "threads before/after", "fds before/after"], rows)
    print(text)
    if not args.no_write:
        publish("Soak: stream pipeline on a synthetic live source", text, "Live policy (newest frame), camera at 2000 fps so the "
                "denoiser is the bottleneck; RSS sampled every 50 frames after 200 warm-up frames.")


if __name__ == "__main__":
    main()
