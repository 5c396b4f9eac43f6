"""Where denoised frames go: video files, image files, a window, an MJPEG server.

Each sink has write(Frame) and close(); the pipeline calls them from one thread.
"""
from __future__ import annotations

import time
from collections import deque
from typing import Callable, List, Optional

import cv2
import numpy as np

from bfcnn.runtime.files import VideoFile, write_image
from bfcnn.runtime.pipeline import Frame, StopRun


class VideoSink:
    """The denoised stream as a video at `fps` (the source's), same size as the input."""

    def __init__(self, path: str, fps: float) -> None:
        self.file = VideoFile(path, fps)

    def write(self, frame: Frame) -> None:
        self.file.write(frame.output)

    def close(self) -> None:
        self.file.close()


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


class DisplaySink:
    """An OpenCV window. Keys: q / Esc quit, s toggles side-by-side / split, o the overlay."""

    def __init__(self, title: str = "bfcnn: noisy | denoised", view: Optional[View] = None) -> None:
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
