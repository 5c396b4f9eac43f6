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
MAX_JPEG_SEGMENTS = 4096   # a JPEG states its size within a few dozen segments


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


def video_frames(path: str, max_pixels: float = DEFAULT_MAX_PIXELS) -> Tuple[VideoInfo, Iterator[np.ndarray]]:
    """The video's info and its frames (uint8 HxWx3 BGR). Refused before the first frame is
    decoded when its stated frame size is over `max_pixels`, and ended with a SourceError at a
    frame over it (a container can state one size and carry another)."""
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise SourceError(f"cannot open video {path!r} (unsupported codec or not a video)")
    info = VideoInfo(cap.get(cv2.CAP_PROP_FPS) or 30.0, int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                     int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), int(cap.get(cv2.CAP_PROP_FRAME_COUNT)))
    if info.width * info.height > max_pixels or info.width <= 0 or info.height <= 0:
        cap.release()
        raise SourceError(f"video {path!r}: frames of {info.width}x{info.height} are over the {max_pixels:.3g}-pixel "
                          f"limit or unknown; raise it with --max-pixels if you mean it")

    def frames() -> Iterator[np.ndarray]:
        try:
            while True:
                ok, frame = cap.read()
                if not ok:
                    return
                if frame.shape[0] * frame.shape[1] > max_pixels:
                    raise SourceError(f"video {path!r}: a {frame.shape[1]}x{frame.shape[0]} frame in a video "
                                      f"stated as {info.width}x{info.height}; over the --max-pixels limit")
                yield frame
        finally:
            cap.release()
    return info, frames()


def header_size(path: str) -> Optional[Tuple[int, int]]:
    """(width, height) from the header of a PNG, JPEG, BMP, TIFF or WebP file without decoding;
    None when the format is none of these or its header is damaged."""
    with open(path, "rb") as f:
        return header_size_of(f)


def header_size_of(f) -> Optional[Tuple[int, int]]:
    """header_size on an open binary file (or io.BytesIO)."""
    head = f.read(32)
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        return struct.unpack(">II", head[16:24])
    if head[:2] == b"BM" and len(head) >= 26:
        w, h = struct.unpack("<ii", head[18:26])
        return abs(w), abs(h)
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return _tiff_size(f, head)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _webp_size(head)
    if head[:2] != b"\xff\xd8":
        return None
    f.seek(2)
    for _ in range(MAX_JPEG_SEGMENTS):        # walk the JPEG segments to the frame header
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
    return None                               # thousands of segments before any frame: not a photo


def _tiff_size(f, head: bytes) -> Optional[Tuple[int, int]]:
    """The first page's ImageWidth / ImageLength tags (what OpenCV decodes), TIFF or BigTIFF:
    the first occurrence of each (as libtiff reads them), SHORT or LONG (LONG8 in BigTIFF);
    None for any other layout, which read_image then refuses."""
    e = "<" if head[:2] == b"II" else ">"
    big = head[2:4] in (b"+\x00", b"\x00+")
    offset = struct.unpack(e + ("Q" if big else "I"), head[8:16] if big else head[4:8])[0]
    f.seek(0, os.SEEK_END)
    if offset + (8 if big else 2) > f.tell():
        return None
    f.seek(offset)
    count_raw = f.read(8 if big else 2)
    if len(count_raw) < (8 if big else 2):
        return None
    count = struct.unpack(e + ("Q" if big else "H"), count_raw)[0]
    entry = 20 if big else 12
    found = {}
    for _ in range(min(count, 4096)):
        raw = f.read(entry)
        if len(raw) < entry:
            return None
        tag, kind = struct.unpack(e + "HH", raw[:4])
        if tag in (256, 257) and tag not in found:
            value = raw[12:] if big else raw[8:]
            if kind == 3:
                found[tag] = struct.unpack(e + "H", value[:2])[0]
            elif kind == 4:
                found[tag] = struct.unpack(e + "I", value[:4])[0]
            elif kind == 16 and big:
                found[tag] = struct.unpack(e + "Q", value[:8])[0]
            else:
                return None
    return (found[256], found[257]) if 256 in found and 257 in found else None


def _webp_size(head: bytes) -> Optional[Tuple[int, int]]:
    chunk = head[12:16]
    if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":
        w, h = struct.unpack("<HH", head[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L" and head[20:21] == b"\x2f":
        bits = struct.unpack("<I", head[21:25])[0]
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        return int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1
    return None


def read_image(path: str, max_pixels: float = DEFAULT_MAX_PIXELS) -> Tuple[np.ndarray, List[str]]:
    """(uint8 BGR or gray frame, notes on what was not kept). Raises SourceError when the file
    is unreadable or would decode to more than `max_pixels`: the header is read before any
    decoding (a 389 KB PNG can hold 20000x20000, an 8 KB TIFF reached 3.6 GB), and a format
    whose header this cannot read is refused, not decoded unbounded (PNG, JPEG, BMP, TIFF and
    WebP are read). 16-bit images become 8-bit and an alpha channel is dropped: both are said
    in the notes."""
    if not os.path.isfile(path):
        raise SourceError("not a regular file")
    try:
        size = header_size(path)
    except (OSError, struct.error, ValueError, OverflowError) as exc:
        raise SourceError(f"cannot read its header ({exc})") from None
    if size is None:
        raise SourceError("not a PNG, JPEG, BMP, TIFF or WebP image whose size its header states (other "
                          "formats are not decoded: their size cannot be checked first); convert it")
    if size[0] * size[1] > max_pixels:
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
