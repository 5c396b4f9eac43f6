"""Crash-safe file output: every file the runtime writes goes through temp-file-and-rename,
so an interrupted write leaves the old file or none, never a half-written one."""
from __future__ import annotations

import os
import tempfile

import cv2
import numpy as np


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write `data` to `path` via a temp file in the same folder, fsync, then rename."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".bfcnn-", suffix=".part", dir=folder)
    os.fchmod(fd, 0o644)  # mkstemp's 0600 would make shipped models unreadable to other users
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_image(path: str, image: np.ndarray) -> None:
    """Encode by the extension of `path` (png, jpg, bmp, tif, webp) and write atomically.
    image: uint8 HxW or HxWx3 BGR. Raises ValueError for an extension OpenCV cannot encode."""
    ext = os.path.splitext(path)[1] or ".png"
    ok, buf = cv2.imencode(ext, image)
    if not ok:
        raise ValueError(f"cannot encode {path!r} as {ext}; use .png, .jpg, .bmp or .tif")
    atomic_write_bytes(path, buf.tobytes())


class VideoFile:
    """mp4v / MJPG video written to `<name>.part<ext>` and renamed on close, so a crash leaves
    no truncated file under the final name and Ctrl-C leaves a playable one."""

    def __init__(self, path: str, fps: float) -> None:
        self.path, self.fps = path, fps
        root, ext = os.path.splitext(path)
        self.tmp = f"{root}.part{ext}"
        self._writer = None
        self.frames = 0

    def write(self, image: np.ndarray) -> None:
        if self._writer is None:
            ext = os.path.splitext(self.path)[1].lower()
            fourcc = cv2.VideoWriter_fourcc(*("MJPG" if ext == ".avi" else "mp4v"))
            h, w = image.shape[:2]
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            self._writer = cv2.VideoWriter(self.tmp, fourcc, self.fps, (w, h), image.ndim == 3)
            if not self._writer.isOpened():
                raise ValueError(f"cannot write video {self.path!r}; use a .mp4 or .avi name")
        self._writer.write(image)
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            os.replace(self.tmp, self.path)
