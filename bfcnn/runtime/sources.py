"""File sources: image files / folders / globs and video files (cameras: cameras.py).

Frames are uint8 HxWx3 BGR (or HxW gray) arrays.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from typing import Iterator, List, Optional, Tuple

import cv2
import numpy as np

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".m4v", ".webm")


class SourceError(RuntimeError):
    """A source cannot be opened or read; the message names it and the fix."""


def is_video(path: str) -> bool:
    return path.lower().endswith(VIDEO_EXTENSIONS)


def expand_inputs(spec: str) -> List[str]:
    """A file, a folder (its images and videos, sorted) or a glob -> list of files."""
    if os.path.isdir(spec):
        files = [os.path.join(spec, n) for n in sorted(os.listdir(spec))
                 if n.lower().endswith(IMAGE_EXTENSIONS + VIDEO_EXTENSIONS)]
    elif any(ch in spec for ch in "*?["):
        files = sorted(glob.glob(spec))
    elif os.path.isfile(spec):
        files = [spec]
    else:
        raise SourceError(f"--input {spec!r}: no such file or folder")
    if not files:
        raise SourceError(f"--input {spec!r}: no images or videos found")
    return files


@dataclass
class VideoInfo:
    fps: float
    width: int
    height: int
    frames: int


def video_frames(path: str) -> Tuple[VideoInfo, Iterator[np.ndarray]]:
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise SourceError(f"cannot open video {path!r} (unsupported codec or not a video)")
    info = VideoInfo(cap.get(cv2.CAP_PROP_FPS) or 30.0, int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                     int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), int(cap.get(cv2.CAP_PROP_FRAME_COUNT)))

    def frames() -> Iterator[np.ndarray]:
        try:
            while True:
                ok, frame = cap.read()
                if not ok:
                    return
                yield frame
        finally:
            cap.release()
    return info, frames()


def read_image(path: str) -> Optional[np.ndarray]:
    """uint8 BGR or gray frame, or None when unreadable (the caller reports and skips)."""
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None or img.size == 0:
        return None
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    if img.dtype != np.uint8:
        return None
    if img.ndim == 3 and img.shape[2] == 4:
        img = img[:, :, :3]
    return img
