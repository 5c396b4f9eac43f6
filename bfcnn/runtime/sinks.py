"""Where denoised frames go: video files, image files, a window, an MJPEG server.

Each sink has write(Frame) and close(); the pipeline calls them from one thread.
"""
from __future__ import annotations

import os
import sys
import time
from collections import deque
from typing import Callable, List, Optional

import cv2
import numpy as np

from bfcnn.runtime.files import VideoFile, write_image
from bfcnn.runtime.pipeline import Frame, StopRun


class VideoSink:
    """The denoised stream as a video at `fps` (the source's), same size as the input.

    keep_time: for live sources, which drop frames when the denoiser is slower than the camera
    (and may deliver fewer than `fps`): each frame fills the output slots (1/fps apart) up to its
    capture time, repeating the previous one, so the file plays as long as the capture took (19
    processed frames of 2.7 s were once written as 0.63 s). A gap is filled up to MAX_GAP
    seconds. close() says how many frames were repeats."""

    MAX_GAP = 5.0

    def __init__(self, path: str, fps: float, keep_time: bool = False) -> None:
        self.file = VideoFile(path, fps)
        self.fps, self.keep_time, self.path = fps, keep_time, path
        self._start: Optional[float] = None
        self._slot = -1          # the last output slot written
        self.written = self.repeats = 0

    def write(self, frame: Frame) -> None:
        copies = 1
        if self.keep_time:
            if self._start is None:
                self._start = frame.captured
            slot = int(round((frame.captured - self._start) * self.fps))
            copies = max(1, min(slot - self._slot, int(self.MAX_GAP * self.fps)))
            self._slot = max(slot, self._slot + 1)
        for _ in range(copies):
            self.file.write(frame.output)
        self.written += copies
        self.repeats += copies - 1

    def close(self) -> None:
        self.file.close()
        if self.keep_time and self.repeats:
            print(f"note: {self.path}: {self.written} frames at {self.fps:g} frames/s, {self.repeats} of them "
                  f"repeats of the frame before (frames the denoiser dropped or the source did not "
                  f"deliver), so it plays in the capture's time", file=sys.stderr)


class ImageSink:
    """Each frame as an image file; `path_for(name)` maps the source name to the output path."""

    def __init__(self, path_for: Callable[[str], str]) -> None:
        self.path_for = path_for
        self.written: List[str] = []

    def write(self, frame: Frame) -> None:
        out = self.path_for(frame.name)
        write_image(out, frame.output)
        self.written.append(out)
        print(f"wrote {out}")

    def close(self) -> None:
        pass


def side_by_side(noisy: np.ndarray, clean: np.ndarray, split: bool) -> np.ndarray:
    """One BGR view: noisy | denoised, or split (left half noisy, right half denoised)."""
    a = noisy if noisy.ndim == 3 else cv2.cvtColor(noisy, cv2.COLOR_GRAY2BGR)
    b = clean if clean.ndim == 3 else cv2.cvtColor(clean, cv2.COLOR_GRAY2BGR)
    if not split:
        return np.hstack([a, b])
    view = b.copy()
    half = view.shape[1] // 2
    view[:, :half] = a[:, :half]
    view[:, half] = (0, 255, 255)
    return view


class Overlay:
    """Frames/s and latency over the last second, drawn on a view."""

    def __init__(self) -> None:
        self.times: deque = deque(maxlen=120)

    def draw(self, view: np.ndarray, frame: Frame) -> np.ndarray:
        now = time.perf_counter()
        self.times.append(now)
        while self.times and now - self.times[0] > 1.0:
            self.times.popleft()
        text = f"{len(self.times)} fps  latency {1000 * (now - frame.captured):.0f} ms"
        cv2.putText(view, text, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(view, text, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 255, 0), 1, cv2.LINE_AA)
        return view


class View:
    """The noisy | denoised picture with the overlay (and the --explain-pixel inset): rendered
    once per frame and shared by the window and the MJPEG server."""

    def __init__(self, split: bool = False, probe=None) -> None:
        self.split, self.probe, self.show_overlay = split, probe, True
        self.overlay = Overlay()
        self._frame, self._view = None, None

    def render(self, frame: Frame) -> np.ndarray:
        if frame is self._frame:
            return self._view
        view = side_by_side(frame.image, frame.output, self.split)
        if self.probe is not None:
            self.probe.submit(frame.image)
            view = self.probe.draw(view, frame.image.shape[1])
        if self.show_overlay:
            view = self.overlay.draw(view, frame)
        self._frame, self._view = frame, view
        return view


def window_problem() -> Optional[str]:
    """Why OpenCV cannot open a window here (None: it can). pip's runtime install brings
    opencv-python-headless, which has no windows (servers, Pi, Jetson); a desktop OpenCV on Linux
    needs a display server."""
    info = cv2.getBuildInformation()
    gui = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.strip().startswith("GUI:")), "")
    if gui.upper() == "NONE":
        return ("this OpenCV has no windows (opencv-python-headless, what the runtime installs): watch "
                "in a browser instead (bfcnn-runtime --serve 8080), or install a desktop OpenCV (pip uninstall "
                "opencv-python-headless && pip install opencv-python; on a Pi or Jetson use the system's: "
                "see the README's Raspberry Pi / Jetson install)")
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return ("no display here (DISPLAY is not set, e.g. over ssh): watch in a browser instead "
                "(bfcnn-runtime --serve 0.0.0.0:8080)")
    return None


class DisplaySink:
    """An OpenCV window. Keys: q / Esc quit, s toggles side-by-side / split, o the overlay.
    Refused at construction (ValueError naming the fix) where no window can open."""

    def __init__(self, title: str = "bfcnn: noisy | denoised", view: Optional[View] = None) -> None:
        problem = window_problem()
        if problem:
            raise ValueError(f"--display: {problem}")
        self.title, self.view = title, view or View()

    def write(self, frame: Frame) -> None:
        cv2.imshow(self.title, self.view.render(frame))
        key = cv2.waitKey(1) & 0xFF
        if key in (ord("q"), 27):
            raise StopRun()
        if key == ord("s"):
            self.view.split = not self.view.split
        elif key == ord("o"):
            self.view.show_overlay = not self.view.show_overlay

    def close(self) -> None:
        cv2.destroyAllWindows()
