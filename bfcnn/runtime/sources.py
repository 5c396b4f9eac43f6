"""File sources: image files / folders / globs and video files (cameras: cameras.py).

Frames are uint8 HxWx3 BGR (or HxW gray) arrays.
"""
from __future__ import annotations

import glob
import os
import struct
from dataclasses import dataclass
from typing import Iterator, List, Optional, Tuple

import cv2
import numpy as np

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".m4v", ".webm")
DEFAULT_MAX_PIXELS = 100_000_000


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
        files = sorted(glob.glob(spec, recursive=True))
    elif os.path.isfile(spec):
        files = [spec]
    elif os.path.exists(spec):
        raise SourceError(f"--input {spec!r}: not a regular file (a pipe or device would block or never end)")
    else:
        raise SourceError(f"--input {spec!r}: no such file or folder")
    files = [f for f in files if os.path.isfile(f)]   # regular files only: a FIFO named x.png blocks
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


def header_size(path: str) -> Optional[Tuple[int, int]]:
    """(width, height) from a PNG or JPEG header without decoding, else None (unknown format)."""
    with open(path, "rb") as f:
        head = f.read(32)
        if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
            return struct.unpack(">II", head[16:24])
        if head[:2] != b"\xff\xd8":
            return None
        f.seek(2)
        while True:                               # walk the JPEG segments to the frame header
            marker = f.read(2)
            if len(marker) < 2 or marker[0] != 0xFF:
                return None
            if marker[1] in (0xD8, 0x01) or 0xD0 <= marker[1] <= 0xD7:
                continue
            length = f.read(2)
            if len(length) < 2:
                return None
            size = struct.unpack(">H", length)[0]
            if 0xC0 <= marker[1] <= 0xCF and marker[1] not in (0xC4, 0xC8, 0xCC):
                data = f.read(5)
                if len(data) < 5:
                    return None
                h, w = struct.unpack(">HH", data[1:5])
                return w, h
            f.seek(size - 2, os.SEEK_CUR)


def read_image(path: str, max_pixels: float = DEFAULT_MAX_PIXELS) -> Tuple[np.ndarray, List[str]]:
    """(uint8 BGR or gray frame, notes on what was not kept). Raises SourceError when the file
    is unreadable or decodes to more than `max_pixels` (PNG / JPEG headers are checked before
    decoding: a 389 KB PNG can hold 20000x20000). 16-bit images become 8-bit and an alpha
    channel is dropped: both are said in the notes."""
    if not os.path.isfile(path):
        raise SourceError("not a regular file")
    size = header_size(path)
    if size is not None and size[0] * size[1] > max_pixels:
        raise SourceError(f"{size[0]}x{size[1]} is over the {max_pixels:.3g}-pixel limit; raise it "
                          f"with --max-pixels if you mean it")
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None or img.size == 0:
        raise SourceError("not a readable image")
    if img.shape[0] * img.shape[1] > max_pixels:
        raise SourceError(f"{img.shape[1]}x{img.shape[0]} is over the {max_pixels:.3g}-pixel limit; "
                          f"raise it with --max-pixels if you mean it")
    notes = []
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
        notes.append("16-bit image denoised and written as 8-bit")
    if img.dtype != np.uint8:
        raise SourceError(f"{img.dtype} images are not supported (8 or 16 bits per channel)")
    if img.ndim == 3 and img.shape[2] == 4:
        img = img[:, :, :3]
        notes.append("alpha channel dropped (the output has none)")
    return img, notes
