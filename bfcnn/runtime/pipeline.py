"""Capture -> denoise -> output in three threads with bounded queues, and the run's statistics.

Live sources (cameras) hand frames to the denoiser through a one-slot mailbox that keeps
only the newest frame: when the denoiser is slower than the camera, older frames are
dropped and counted, so latency stays bounded instead of growing with a backlog. File
sources go through a small blocking queue: every frame is processed, in order.

Outputs (video / image files, window, MJPEG server) run in the calling thread, which is
also where Ctrl-C and SIGTERM (systemd, docker, `timeout`) arrive: either stops capture, and the
sinks are closed so files play; a second signal while they close is noted, not obeyed.
"""
from __future__ import annotations

import json
import queue
import signal
import sys
import threading
import time
from dataclasses import dataclass, field, fields
from typing import Callable, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

END = object()   # what a closed queue or mailbox hands out once it is empty


@dataclass
class Frame:
    """One frame in flight. `image` is what the source gave (uint8 HxW or HxWx3 BGR);
    `output` the denoised frame, same shape and dtype; times from time.perf_counter()."""
    index: int
    name: str
    image: np.ndarray
    captured: float
    output: Optional[np.ndarray] = None
    denoised: float = 0.0


class LatestSlot:
    """A one-item mailbox that keeps the newest item; replacing an unread one counts a drop."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._item = None
        self._closed = False
        self.dropped = 0

    def put(self, item) -> None:
        with self._cv:
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self._cv.notify()

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()

    def get(self, timeout: float = 0.1):
        """The newest item, None on timeout, or END once closed and empty."""
        with self._cv:
            if self._item is None and not self._closed:
                self._cv.wait(timeout)
            if self._item is not None:
                item, self._item = self._item, None
                return item
            return END if self._closed else None


class BoundedQueue:
    """Blocking FIFO of at most `size` items (file sources: nothing dropped)."""

    def __init__(self, size: int, stop: threading.Event) -> None:
        self._q: queue.Queue = queue.Queue(maxsize=size)
        self._stop = stop
        self.dropped = 0

    def put(self, item) -> None:
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        self.put(END)

    def get(self, timeout: float = 0.1):
        try:
            return self._q.get(timeout=timeout)
        except queue.Empty:
            return None


class Reservoir:
    """A run's per-frame values in bounded memory: every value while there are at most
    `capacity` (percentiles exact), then a uniform random sample of them (Vitter's algorithm R,
    seeded: the same run keeps the same sample); the count and maximum stay exact. A day at 30
    frames/s is 2.6 million frames: as lists, two values a frame grew by ~230 MB a day."""

    def __init__(self, capacity: int = 8192, seed: int = 0) -> None:
        self.capacity = int(capacity)
        self.count = 0
        self.max = 0.0
        self._samples: List[float] = []
        self._rng = np.random.default_rng(seed)

    def add(self, value: float) -> None:
        self.count += 1
        self.max = max(self.max, float(value))
        if len(self._samples) < self.capacity:
            self._samples.append(float(value))
        else:
            j = int(self._rng.integers(0, self.count))
            if j < self.capacity:
                self._samples[j] = float(value)

    def merged(self, other: "Reservoir") -> "Reservoir":
        """Both runs' values as one reservoir (each kept in proportion to its count)."""
        out = Reservoir(self.capacity)
        total = self.count + other.count
        for r in (self, other):
            keep = len(r._samples) if total <= self.capacity else int(round(self.capacity * r.count / max(total, 1)))
            out._samples.extend(r._samples[:keep])
        out.count, out.max = total, max(self.max, other.max)
        return out

    def __len__(self) -> int:
        return len(self._samples)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return np.asarray(self._samples, dtype=dtype or np.float64)


@dataclass
class StreamStats:
    """What a run did. fps are frames per wall-clock second; latencies capture -> output, ms."""
    captured: int = 0
    processed: int = 0
    dropped: int = 0
    seconds: float = 0.0
    capture_fps: float = 0.0
    processed_fps: float = 0.0
    latency_ms_p50: float = 0.0
    latency_ms_p95: float = 0.0
    latency_ms_max: float = 0.0
    denoise_ms_p50: float = 0.0
    interrupted: bool = False
    # frame averaging's, for the whole run (the CLI copies its stats in at the end)
    temporal_model: str = ""       # what used the frames before (frame averaging + a model)
    temporal_restarts: int = 0     # times it started over: first frames, new sizes, files, cuts
    temporal_cuts: int = 0         # cuts it detected
    noise: Optional[dict] = None   # the noise frame averaging measured (bfcnn.runtime.noise.NoiseProfile)
    latencies_ms: Reservoir = field(default_factory=Reservoir, repr=False)
    denoise_ms: Reservoir = field(default_factory=Reservoir, repr=False)

    def finish(self) -> "StreamStats":
        """Derive the rates and percentiles from the counters and per-frame lists."""
        self.capture_fps = self.captured / max(self.seconds, 1e-9)
        self.processed_fps = self.processed / max(self.seconds, 1e-9)
        if len(self.latencies_ms):
            lat = np.asarray(self.latencies_ms)
            self.latency_ms_p50, self.latency_ms_p95 = (float(v) for v in np.percentile(lat, [50, 95]))
            self.latency_ms_max = self.latencies_ms.max
            self.denoise_ms_p50 = float(np.median(np.asarray(self.denoise_ms)))
        return self

    def __add__(self, other: "StreamStats") -> "StreamStats":
        """Totals over consecutive runs (several files); percentiles over all their frames."""
        return StreamStats(captured=self.captured + other.captured, processed=self.processed + other.processed,
                           dropped=self.dropped + other.dropped, seconds=self.seconds + other.seconds,
                           interrupted=self.interrupted or other.interrupted,
                           latencies_ms=self.latencies_ms.merged(other.latencies_ms),
                           denoise_ms=self.denoise_ms.merged(other.denoise_ms)).finish()

    def summary(self) -> str:
        text = (f"captured {self.captured} frames ({self.capture_fps:.1f} fps), processed "
                f"{self.processed} ({self.processed_fps:.1f} fps), dropped {self.dropped}, latency "
                f"p50 {self.latency_ms_p50:.0f} ms p95 {self.latency_ms_p95:.0f} ms")
        if self.temporal_model:
            text += (f"; with the frames before ({self.temporal_model}): {self.temporal_restarts} "
                     f"restarts, {self.temporal_cuts} cuts detected")
        return text

    def to_json(self, path: str) -> None:
        from bfcnn.runtime.files import atomic_write_bytes
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("latencies_ms", "denoise_ms")}
        atomic_write_bytes(path, (json.dumps(data, indent=2) + "\n").encode())


class Interrupts:
    """SIGINT and SIGTERM raise KeyboardInterrupt in the main thread (the run ends like Ctrl-C)
    once; after that first signal, and from the moment `closing` is set, a signal only prints that
    the outputs are being finished, so a second Ctrl-C or a SIGTERM right after the first cannot
    leave a half-renamed file. `fired` says whether a signal arrived. Nested inside another
    Interrupts (the CLI's), a signal marks both. `ignore_after_signal=True` (a process's entry
    point) ignores SIGINT and SIGTERM from the exit of the block on once a signal arrived: Python
    resets its own handlers to the defaults while the interpreter shuts down, and a second Ctrl-C
    then would kill the process (exit -2 instead of 130). Other threads leave the handlers alone."""

    def __init__(self, ignore_after_signal: bool = False) -> None:
        self.closing = False
        self.fired = False
        self.ignore_after_signal = ignore_after_signal
        self._old: dict = {}
        self._outer: Optional["Interrupts"] = None

    def __enter__(self) -> "Interrupts":
        if threading.current_thread() is threading.main_thread():
            outer = getattr(signal.getsignal(signal.SIGINT), "__self__", None)
            self._outer = outer if isinstance(outer, Interrupts) else None
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _mark(self) -> None:
        self.fired = True
        if self._outer is not None:
            self._outer._mark()

    def _handle(self, signum, frame) -> None:
        first = not self.fired
        self._mark()
        if self.closing or not first:
            print("finishing the outputs, one moment", file=sys.stderr)
            return
        raise KeyboardInterrupt

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, signal.SIG_IGN if self.fired and self.ignore_after_signal else old)


class StopRun(Exception):
    """Raised by a sink (a window's 'q' key) to end the run cleanly."""


def _capture(frames: Iterable[Tuple[str, np.ndarray]], inbox, stop: threading.Event,
             max_frames: Optional[int], counter: List[int], errors: list) -> None:
    try:
        for index, (name, image) in enumerate(frames):
            if stop.is_set() or (max_frames is not None and index >= max_frames):
                break
            counter[0] = index + 1
            inbox.put(Frame(index, name, image, time.perf_counter()))
    except Exception as exc:  # reported by the main thread; the run ends cleanly
        errors.append(exc)
    finally:
        inbox.close()


def _denoise(fn: Callable[[np.ndarray], np.ndarray], inbox, outbox: BoundedQueue,
             stop: threading.Event, errors: list) -> None:
    try:
        while not stop.is_set():
            item = inbox.get()
            if item is None:
                continue
            if item is END:
                break
            item.output = fn(item.image)
            item.denoised = time.perf_counter()
            outbox.put(item)
    except Exception as exc:
        errors.append(exc)
    finally:
        outbox.close()


def run_stream(frames: Iterable[Tuple[str, np.ndarray]], denoise: Callable[[np.ndarray], np.ndarray],
               sinks: Sequence, live: bool, max_frames: Optional[int] = None,
               progress_total: Optional[int] = None, progress_label: str = "frames") -> StreamStats:
    """Run the three-stage pipeline until the source ends, max_frames (captured from a file,
    processed from a live source), a sink's StopRun, or Ctrl-C.

    frames: iterable of (name, uint8 image). sinks: objects with write(Frame) and close().
    live: newest-frame policy with counted drops (cameras); else every frame in order.
    Returns StreamStats; Ctrl-C ends the run like the source ending, with stats.interrupted set.
    """
    stop = threading.Event()
    inbox = LatestSlot() if live else BoundedQueue(4, stop)
    outbox = BoundedQueue(4, stop)
    counter, errors, stats = [0], [], StreamStats()
    started = time.perf_counter()
    # files stop capturing at max_frames (every frame is processed); a live source drops frames
    # when the denoiser is slower, so there max_frames counts processed frames (a live
    # --max-frames 300 processed 100)
    threads = [threading.Thread(target=_capture, args=(frames, inbox, stop, None if live else max_frames, counter, errors),
                                name="bfcnn-capture", daemon=True),
               threading.Thread(target=_denoise, args=(denoise, inbox, outbox, stop, errors),
                                name="bfcnn-denoise", daemon=True)]
    for t in threads:
        t.start()
    bar = None
    if progress_total is not None:
        from tqdm import tqdm
        bar = tqdm(total=progress_total or None, unit="frame", desc=progress_label, file=sys.stderr,
                   # a log file: fewer redraws (maxinterval too, or tqdm redraws every 10 s)
                   mininterval=0.1 if sys.stderr.isatty() else 30.0,
                   maxinterval=10.0 if sys.stderr.isatty() else 30.0)
    interrupts = Interrupts().__enter__()
    try:
        while True:
            item = outbox.get()
            if item is None:
                continue
            if item is END:
                break
            finished = False
            for sink in sinks:
                try:
                    sink.write(item)
                except StopRun:       # this frame was delivered; stop after it
                    finished = True
            now = time.perf_counter()
            stats.latencies_ms.add(1000.0 * (now - item.captured))
            stats.denoise_ms.add(1000.0 * (item.denoised - item.captured))
            stats.processed += 1
            if bar is not None:
                bar.update(1)
            if finished or (live and max_frames is not None and stats.processed >= max_frames):
                break
    except KeyboardInterrupt:
        stats.interrupted = True
    finally:
        interrupts.closing = True
        try:
            stop.set()
            for t in threads:
                t.join(timeout=5.0)
            if bar is not None:
                bar.close()
            for sink in sinks:
                sink.close()
        finally:
            interrupts.__exit__()
    stats.interrupted = stats.interrupted or interrupts.fired   # a signal while closing ends the run too
    stats.seconds = time.perf_counter() - started
    stats.captured = counter[0]
    stats.dropped = inbox.dropped
    stats.finish()
    if errors:
        raise errors[0]
    return stats


def named(frames: Iterator[np.ndarray], name: str) -> Iterator[Tuple[str, np.ndarray]]:
    """(name, frame) pairs for a source that yields bare frames."""
    for frame in frames:
        yield name, frame
