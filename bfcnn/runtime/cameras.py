"""Live sources: OpenCV cameras, Picamera2 (Raspberry Pi), and a synthetic camera for tests.

Each has `fps` (what it was asked for), `frames()` yielding uint8 frames (HxWx3 BGR or
HxW gray) until it ends, and `close()`.
"""
from __future__ import annotations

import sys
import time
from typing import Dict, Iterator, Optional

import cv2
import numpy as np

from bfcnn.runtime.mjpeg_client import MjpegCapture, redact
from bfcnn.runtime.sources import DEFAULT_MAX_PIXELS, SourceError


SHORT_SESSION = 3.0   # s: a live source that ends this soon after every reopen has ended
NETWORK_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")


def is_stream(spec: str) -> bool:
    """A network stream URL (rtsp://, http://, ...). Nothing else is: a file is a file whatever
    its name ("holiday ! beach.avi" too), and a GStreamer pipeline is only ever taken from its
    own option (CameraSource(..., gstreamer=True), bfcnn-runtime --gstreamer): a pipeline is a
    program (filesink writes files, tcpclientsink opens connections), so a service passing a
    user's "camera URL" to --input must not run one."""
    return spec.lower().startswith(NETWORK_SCHEMES)


def _has_gstreamer() -> bool:
    for line in cv2.getBuildInformation().splitlines():
        if line.strip().startswith("GStreamer:"):
            return "YES" in line.upper()
    return False


def _interruptible(call):
    """call() on a helper thread while this one waits in short slices: opening an unreachable
    stream blocks inside FFmpeg for up to 30 s, where Ctrl-C cannot reach; waiting here, it
    does (KeyboardInterrupt; the helper thread ends on its own and is dropped)."""
    import threading
    box: list = []
    worker = threading.Thread(target=lambda: box.append(_outcome(call)), name="bfcnn-open", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.1)
    ok, value = box[0]
    if not ok:
        raise value
    return value


def _outcome(call):
    try:
        return True, call()
    except Exception as exc:   # handed to the waiting thread, which raises it
        return False, exc


class CameraSource:
    """An OpenCV capture: a camera index (V4L2 on Linux: MJPG, requested size / fps), a network
    stream URL (RTSP, HTTP MJPEG, ...: OpenCV's FFmpeg backend) or, with gstreamer=True only, a
    GStreamer pipeline ending in appsink (Jetson CSI cameras: nvarguscamerasrc ! ... ! appsink;
    needs an OpenCV built with GStreamer; the pipeline runs as given: pass only trusted ones). A 1-frame buffer; when reads fail it reopens with exponential backoff (an IP
    camera rebooting, Wi-Fi dropping), gives up after `retries` failed reads in a row and ends
    the stream cleanly."""

    def __init__(self, device, width: int = 0, height: int = 0, fps: float = 0, retries: int = 5,
                 backoff: float = 0.05, capture_factory=cv2.VideoCapture, gstreamer: bool = False,
                 max_pixels: float = DEFAULT_MAX_PIXELS) -> None:
        self.device, self.width, self.height, self.fps, self.retries = device, width, height, fps or 30.0, retries
        self.backoff = backoff
        self.max_pixels = max_pixels
        self.name = redact(str(device))     # for messages: never a URL's password
        self._factory = capture_factory
        self.reopened = 0
        self.gstreamer = bool(gstreamer)
        if gstreamer and not isinstance(device, str):
            raise ValueError(f"a GStreamer pipeline is a string ending in appsink, got {device!r}")
        if isinstance(device, str) and not gstreamer and not is_stream(device):
            raise SourceError(f"{device!r} is not a stream URL ({', '.join(NETWORK_SCHEMES)}); a GStreamer "
                              f"pipeline goes to --gstreamer, a file to --input")
        if gstreamer and capture_factory is cv2.VideoCapture and not _has_gstreamer():
            raise SourceError("this OpenCV has no GStreamer support, so it cannot open a GStreamer "
                              "pipeline; on a Jetson use the system OpenCV (python3-opencv from JetPack, "
                              "venv with --system-site-packages), or give an rtsp:// / http:// URL")
        self._cap = self._open()
        # a video at a URL reports its frame count; live streams and cameras report 0 or -1
        self.length = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT)) if isinstance(device, str) else 0

    def _open(self):
        if isinstance(self.device, str):
            name = self.name
            if not self.gstreamer and self._factory is cv2.VideoCapture \
                    and self.device.lower().startswith(("http://", "https://")):
                mjpeg = MjpegCapture(self.device, self.max_pixels)   # bounded memory per frame
                if mjpeg.is_mjpeg:
                    return mjpeg
                if mjpeg.error:      # never retried through FFmpeg (no bounds, no certificate check)
                    raise SourceError(f"cannot open stream {name!r}: {mjpeg.error}; check the address, "
                                      f"that the camera or server is up, and any login in the URL")
            backend = cv2.CAP_GSTREAMER if self.gstreamer else cv2.CAP_FFMPEG
            cap = _interruptible(lambda: self._factory(self.device, backend))
            if not cap.isOpened():
                raise SourceError(f"cannot open stream {name!r}: check the address, that the "
                                  f"camera or server is up and reachable from here, and any login in the URL")
            w, h = cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)
            if w * h > self.max_pixels:
                cap.release()
                raise SourceError(f"stream {name!r}: frames of {w:.0f}x{h:.0f} are over the "
                                  f"{self.max_pixels:.3g}-pixel limit; raise it with --max-pixels if you mean it")
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
            return cap
        backend = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
        cap = self._factory(self.device, backend)
        if not cap.isOpened():
            raise SourceError(f"cannot open camera {self.device} (/dev/video{self.device}): check it is "
                              f"connected, not used by another program, and that you may read it "
                              f"(add yourself to the 'video' group); list cameras with v4l2-ctl --list-devices")
        cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
        if self.width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        if self.height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        cap.set(cv2.CAP_PROP_FPS, self.fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        return cap

    def frames(self) -> Iterator[np.ndarray]:
        """The frames until the source ends. A source that reports its length (a video file at
        an http:// URL) ends when a read fails: it is never reopened (that replayed it from the
        start, forever, as a live stream). A live source is reopened after failed reads, with
        backoff, up to `retries` failures in a row; one that keeps ending within
        SHORT_SESSION seconds of each reopen (a pipeline with num-buffers) has ended too."""
        failures = short = 0
        start, got = time.monotonic(), 0
        while True:
            ok, frame = self._cap.read()
            if ok:
                if frame.shape[0] * frame.shape[1] > self.max_pixels:
                    raise SourceError(f"stream {self.name!r}: a {frame.shape[1]}x{frame.shape[0]} "
                                      f"frame is over the {self.max_pixels:.3g}-pixel limit")
                failures = 0
                got += 1
                yield frame
                continue
            if self.length > 0:
                print(f"stream {self.name} ended after {got} frames", file=sys.stderr)
                return
            if failures == 0:       # a session of frames has just ended
                short = short + 1 if time.monotonic() - start < SHORT_SESSION else 0
                if short > self.retries:
                    print(f"stream {self.name} keeps ending right after it opens ({short} times): "
                          f"taking it as ended", file=sys.stderr)
                    return
            failures += 1
            if failures > self.retries:
                print(f"camera {self.name} stopped delivering frames; ending the run", file=sys.stderr)
                return
            delay = min(2.0, self.backoff * 2 ** failures)
            print(f"camera {self.name}: read failed, reopening in {delay:.2f} s "
                  f"({failures}/{self.retries})", file=sys.stderr)
            time.sleep(delay)
            self._cap.release()
            try:
                self._cap = self._open()
                self.reopened += 1
                start = time.monotonic()
            except SourceError:
                continue

    def settings(self) -> Dict[str, float]:
        """What the device reports of its gain and exposure (OpenCV's properties; backends that
        do not report one give 0 or -1, which is left out): the setting a noise profile holds."""
        out = {}
        for name, prop in (("gain", cv2.CAP_PROP_GAIN), ("exposure", cv2.CAP_PROP_EXPOSURE)):
            value = float(self._cap.get(prop))
            if value > 0:
                out[name] = value
        return out

    def close(self) -> None:
        self._cap.release()


PICAMERA2_HINT = ("--picamera2 needs the picamera2 package, which comes with Raspberry Pi OS: "
                  "sudo apt install python3-picamera2, and create your venv with --system-site-packages")


# libcamera's NoiseReductionMode values (Off, Fast, HighQuality, Minimal)
ISP_DENOISE = {"off": 0, "fast": 1, "high_quality": 2, "minimal": 3}


class Picamera2Source:
    """Raspberry Pi camera through Picamera2 (libcamera).

    stream="main": BGR frames (Picamera2's "RGB888" is B, G, R in memory, what OpenCV uses).
    stream="lores": a YUV420 low-resolution stream; with gray=True only its luma plane is
    used (no colour conversion at all: the cheapest path for a gray model), else it is
    converted with cv2.COLOR_YUV2BGR_I420. gray=True on "main" asks for YUV420 too.
    """

    def __init__(self, width: int = 640, height: int = 480, fps: float = 30.0, stream: str = "main",
                 gray: bool = False, camera_num: int = 0, isp_denoise: str = "fast") -> None:
        if stream not in ("main", "lores"):
            raise ValueError(f"picamera2 stream {stream!r}: valid streams are 'main' and 'lores'")
        if isp_denoise not in ISP_DENOISE:
            raise ValueError(f"picamera2 isp_denoise {isp_denoise!r}: valid modes are {', '.join(ISP_DENOISE)}")
        try:
            from picamera2 import Picamera2
        except ImportError:
            raise SourceError(PICAMERA2_HINT) from None
        self.width, self.height, self.fps, self.stream, self.gray = width, height, fps, stream, gray
        self.cam = Picamera2(camera_num)
        frame_us = int(round(1e6 / fps))
        # The ISP's own denoiser stays at libcamera's video default (Fast): it is free (hardware),
        # takes the fine colour grain, and the models are trained on camera noise with and
        # without such an ISP stage (dataset.camera_noise.isp_denoise_fraction); "off" hands
        # the model the raw sensor noise, "high_quality" may cost frame rate.
        controls = {"FrameDurationLimits": (frame_us, frame_us), "NoiseReductionMode": ISP_DENOISE[isp_denoise]}
        size = (width, height)
        if stream == "lores":
            config = self.cam.create_video_configuration(
                lores={"size": size, "format": "YUV420"}, controls=controls)
        else:
            fmt = "YUV420" if gray else "RGB888"
            config = self.cam.create_video_configuration(main={"size": size, "format": fmt}, controls=controls)
        self.yuv = stream == "lores" or gray
        self.cam.configure(config)
        self.cam.start()

    def frames(self) -> Iterator[np.ndarray]:
        h, w = self.height, self.width
        while True:
            arr = self.cam.capture_array(self.stream)
            if not self.yuv:
                yield arr[:, :w, :3]
            elif self.gray:
                yield arr[:h, :w]           # Y plane: the first `height` rows
            else:
                yield i420_to_bgr(arr, h, w)

    def settings(self) -> Dict[str, float]:
        """The sensor's setting now, from the frame metadata (analogue and digital gain,
        exposure time in microseconds): the noise a frame holds follows the analogue gain, so a
        saved noise profile records it, and bfcnn-runtime picks the profile of the nearest gain."""
        meta = self.cam.capture_metadata()
        names = {"AnalogueGain": "analogue_gain", "DigitalGain": "digital_gain", "ExposureTime": "exposure_time_us"}
        return {ours: float(meta[theirs]) for theirs, ours in names.items() if theirs in meta}

    def close(self) -> None:
        self.cam.stop()
        self.cam.close()


def i420_to_bgr(arr: np.ndarray, h: int, w: int) -> np.ndarray:
    """Picamera2's YUV420 array (uint8 [h * 3 / 2, stride], stride >= w: rows padded as libcamera
    aligns them) as BGR uint8 [h, w, 3]. The planes lie one after the other in memory: Y as h
    rows of `stride`, then U and V each as h / 2 rows of stride / 2, so each plane is cut out of
    the flat buffer before the padding is dropped (cropping the 2-D array would mix chroma rows)."""
    stride = arr.shape[1]
    flat = np.ascontiguousarray(arr).reshape(-1)
    y = flat[: h * stride].reshape(h, stride)[:, :w]
    c = (h // 2) * (stride // 2)
    u = flat[h * stride: h * stride + c].reshape(h // 2, stride // 2)[:, : w // 2]
    v = flat[h * stride + c: h * stride + 2 * c].reshape(h // 2, stride // 2)[:, : w // 2]
    i420 = np.concatenate([y.reshape(-1), u.reshape(-1), v.reshape(-1)]).reshape(h * 3 // 2, w)
    return cv2.cvtColor(i420, cv2.COLOR_YUV2BGR_I420)


class SyntheticCamera:
    """A live source that produces frames at a fixed rate in real time: a moving pattern plus
    Gaussian noise (sigma on the 0-255 scale), uint8 HxWx3 BGR (or HxW with channels=1); a ring
    of `ring` distinct frames is made up front and cycled (each yield is a fresh copy). The
    pattern pans 3 px a frame out and back (0, 3, ... then back to 3), so the cycle has no jump a
    stream would take for a cut. For tests, soak runs and benchmarks; `count=None` runs until closed."""

    def __init__(self, width: int = 640, height: int = 480, fps: float = 30.0, count: Optional[int] = 100,
                 sigma: float = 20.0, channels: int = 3, seed: int = 0, ring: int = 8) -> None:
        self.width, self.height, self.fps, self.count = width, height, fps, count
        self.sigma, self.channels = sigma, channels
        if ring < 1:
            raise ValueError(f"ring must be >= 1 frame, got {ring}")
        rng = np.random.default_rng(seed)
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        base = 128 + 60 * np.sin(xx / 23.0) * np.cos(yy / 17.0)
        self._ring = []   # frames made up front, so producing one costs a copy, not a noise draw
        for i in range(ring):
            img = np.roll(base, 3 * min(i, ring - i), axis=1)
            if channels == 3:
                img = np.stack([img, np.roll(img, 40, axis=0), 255 - img], axis=-1)
            noisy = img + rng.normal(0, sigma, img.shape).astype(np.float32)
            self._ring.append(np.clip(np.rint(noisy), 0, 255).astype(np.uint8))
        self._closed = False

    def frames(self) -> Iterator[np.ndarray]:
        start, i = time.perf_counter(), 0
        while not self._closed and (self.count is None or i < self.count):
            delay = start + i / self.fps - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            yield self._ring[i % len(self._ring)].copy()
            i += 1

    def settings(self) -> Dict[str, float]:
        """The generated noise's std (0-255 scale)."""
        return {"sigma": float(self.sigma)}

    def close(self) -> None:
        self._closed = True
