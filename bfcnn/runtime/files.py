"""Crash-safe file output: every file the runtime writes goes through temp-file-and-rename,
so an interrupted write leaves the old file or none, never a half-written one."""
from __future__ import annotations

import os
import tempfile
from typing import Tuple

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


VIDEO_OUTPUTS = (".mp4", ".avi")


class VideoFile:
    """mp4v (.mp4) / MJPG (.avi) video written to a fresh hidden temporary file beside `path`
    (created exclusively, so it can never be an input or any other existing file) and renamed
    on close: a crash leaves no truncated file under the final name, Ctrl-C a playable one."""

    def __init__(self, path: str, fps: float) -> None:
        ext = os.path.splitext(path)[1].lower()
        if ext not in VIDEO_OUTPUTS:
            raise ValueError(f"video output {path!r}: name it .mp4 or .avi (the extension picks the codec)")
        self.path, self.fps, self.ext = path, fps, ext
        self.tmp: str = ""
        self._writer = None
        self.size: Tuple[int, int, bool] = (0, 0, True)
        self.frames = 0

    def _open(self, w: int, h: int, color: bool) -> None:
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise OSError(f"cannot write video {self.path!r}: folder {folder} is not writable")
        fd, self.tmp = tempfile.mkstemp(prefix=f".{os.path.basename(self.path)}.", suffix=f".part{self.ext}",
                                        dir=folder)
        os.close(fd)
        fourcc = cv2.VideoWriter_fourcc(*("MJPG" if self.ext == ".avi" else "mp4v"))
        self._writer = cv2.VideoWriter(self.tmp, fourcc, self.fps, (w, h), color)
        self.size = (w, h, color)
        if not self._writer.isOpened():
            self._writer = None
            os.unlink(self.tmp)
            raise ValueError(f"cannot write video {self.path!r}: OpenCV could not open a "
                             f"{'MJPG' if self.ext == '.avi' else 'mp4v'} writer for {w}x{h}")

    def write(self, image: np.ndarray) -> None:
        """Append a frame (uint8 HxWx3 BGR, or HxW gray) of the first frame's size and kind;
        another size raises ValueError (OpenCV's writer drops such frames without a word), and
        the file keeps the frames before it."""
        if self._writer is None:
            self._open(image.shape[1], image.shape[0], image.ndim == 3)
        elif (image.shape[1], image.shape[0], image.ndim == 3) != self.size:
            w, h, color = self.size
            raise ValueError(f"video {self.path!r}: a {image.shape[1]}x{image.shape[0]} "
                             f"{'colour' if image.ndim == 3 else 'gray'} frame after {self.frames} frames of "
                             f"{w}x{h} {'colour' if color else 'gray'}: a video file holds one frame size "
                             f"(the {self.frames} frames are kept)")
        self._writer.write(image)
        self.frames += 1

    def close(self) -> None:
        """Finish the file and give it its name; a second call does nothing."""
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.release()
            os.chmod(self.tmp, 0o644)
            os.replace(self.tmp, self.path)
