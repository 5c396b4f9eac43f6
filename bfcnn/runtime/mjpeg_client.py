"""Reading an HTTP MJPEG stream (multipart/x-mixed-replace of JPEGs: IP cameras, another
bfcnn-runtime's --serve) with bounded memory.

Through OpenCV's FFmpeg backend a 2.25 MB JPEG in such a stream decoded past 4 GB, and a part
that never ended was buffered whole (about 2 GB per 30 s). Here every part is read to at most
MAX_FRAME_BYTES, each JPEG's header is checked against the pixel limit before it is decoded,
and a read that stalls for TIMEOUT seconds fails. The object answers like cv2.VideoCapture
(isOpened, read, get, set, release), so CameraSource's reconnect logic drives it.
"""
from __future__ import annotations

import base64
import http.client
import io
import socket
import struct
import urllib.parse
from typing import Optional, Tuple

import cv2
import numpy as np

from bfcnn.runtime.sources import DEFAULT_MAX_PIXELS, SourceError, header_size_of

MAX_FRAME_BYTES = 32 << 20     # one JPEG part; a 100-megapixel JPEG at quality 95 is ~30 MB
MAX_HEADER_BYTES = 16 << 10    # the headers of one part
TIMEOUT = 10.0                 # s: a read that gets nothing for this long fails


SECRET_QUERY_KEYS = ("pass", "pwd", "password", "token", "key", "auth", "secret", "sig")


def redact(url: str) -> str:
    """The URL without its secrets, for messages: the login (user:pass@host -> ***@host) and
    the values of query keys that look like credentials (?user=a&pwd=b -> ?user=a&pwd=***)."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = "&".join(
        f"{k}=***" if any(w in k.lower() for w in SECRET_QUERY_KEYS) else (f"{k}={v}" if v or "=" in pair else k)
        for pair in parts.query.split("&") if pair for k, _, v in [pair.partition("=")])
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=query))


class MjpegCapture:
    """An HTTP(S) MJPEG stream. `is_mjpeg` is False when the URL answered 200 with something
    else (a video file: the caller opens it with OpenCV instead); `error` says why it could
    not be read at all (connection, TLS certificate, HTTP status, a multipart without a
    boundary): the caller must not hand such a URL to another reader."""

    def __init__(self, url: str, max_pixels: float = DEFAULT_MAX_PIXELS, timeout: float = TIMEOUT) -> None:
        self.url, self.max_pixels = url, max_pixels
        self._conn: Optional[http.client.HTTPConnection] = None
        self._body = None
        self.is_mjpeg = False
        self.error = ""
        self._boundary = b""
        self._pending_boundary = False   # the last part (no Content-Length) ended on a boundary
        self._boundaries = set()
        parts = urllib.parse.urlsplit(url)
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        headers = {}
        if parts.username is not None:
            token = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
            headers["Authorization"] = "Basic " + base64.b64encode(token.encode()).decode()
        try:
            self._conn = cls(parts.hostname or "", parts.port, timeout=timeout)
            self._conn.request("GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), headers=headers)
            resp = self._conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:   # TLS certificate errors are OSError
            self.error = f"{type(exc).__name__}: {exc}"
            self.release()
            return
        ctype = resp.getheader("Content-Type", "")
        if resp.status != 200:
            self.error = f"HTTP {resp.status} {resp.reason}"
            self.release()
            return
        if not ctype.lower().startswith("multipart/"):
            self.release()                   # a video file or such: not ours to read
            return
        boundary = next((p.split("=", 1)[1].strip().strip('"') for p in ctype.split(";")
                         if p.strip().lower().startswith("boundary=")), "")
        if not boundary:
            self.error = f"a multipart stream without a boundary ({ctype!r})"
            self.release()
            return
        # servers differ on whether the declared boundary already has its leading "--"
        self._boundaries = {b"--" + boundary.encode(), b"--" + boundary.encode().lstrip(b"-")}
        self._boundary = b"--" + boundary.encode()
        self._body = resp
        self.is_mjpeg = True

    def isOpened(self) -> bool:   # noqa: N802 (cv2.VideoCapture's name)
        return self._body is not None

    def set(self, prop, value) -> bool:
        return False

    def get(self, prop) -> float:
        return 0.0     # a live stream: no frame count, no gain

    def read(self) -> Tuple[bool, Optional[np.ndarray]]:
        """(True, uint8 HxWx3 BGR) for the next part, (False, None) when the stream fails or
        ends; a part over MAX_FRAME_BYTES, or a JPEG over the pixel limit, raises SourceError."""
        if self._body is None:
            return False, None
        jpeg = b""
        try:
            while jpeg == b"":                 # empty parts (Content-Length: 0) are skipped
                jpeg = self._next_part()
        except (OSError, http.client.HTTPException, socket.timeout):
            return False, None
        if jpeg is None:
            return False, None
        try:
            size = header_size_of(io.BytesIO(jpeg))
        except (struct.error, ValueError, OverflowError):   # a damaged header: not a frame
            size = None
        if size is None:
            return False, None
        if size[0] * size[1] > self.max_pixels:
            raise SourceError(f"stream {redact(self.url)}: a {size[0]}x{size[1]} frame is over the "
                              f"{self.max_pixels:.3g}-pixel limit; raise it with --max-pixels if you mean it")
        frame = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        return (frame is not None), frame

    def _line(self, limit: int) -> bytes:
        line = self._body.readline(limit + 1)
        if len(line) > limit:
            raise SourceError(f"stream {redact(self.url)}: a part's header line is over {limit} bytes")
        return line

    def _next_part(self) -> Optional[bytes]:
        """The next part's body: headers up to a blank line, then Content-Length bytes, or the
        bytes up to the next boundary when the part states no length."""
        read = 0
        line = self._boundary if self._pending_boundary else self._line(MAX_HEADER_BYTES)
        self._pending_boundary = False
        while line.strip() not in self._boundaries:  # skip to a boundary
            if self._is_end(line):
                return None
            if not line:
                return None
            read += len(line)
            if read > MAX_HEADER_BYTES:
                raise SourceError(f"stream {redact(self.url)}: no part boundary in {MAX_HEADER_BYTES} bytes")
            line = self._line(MAX_HEADER_BYTES)
        length = None
        read = 0
        while True:                                   # the part's headers
            line = self._line(MAX_HEADER_BYTES)
            if not line:
                return None
            read += len(line)
            if read > MAX_HEADER_BYTES:
                raise SourceError(f"stream {redact(self.url)}: a part's headers are over {MAX_HEADER_BYTES} bytes")
            if not line.strip():
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    return None
        if length is not None:
            if length == 0:
                return b""
            if not 0 < length <= MAX_FRAME_BYTES:
                raise SourceError(f"stream {redact(self.url)}: a part of {length} bytes is over the "
                                  f"{MAX_FRAME_BYTES >> 20} MB a frame may take")
            data = self._body.read(length)
            return data if len(data) == length else None
        data = bytearray()                             # no length: read to the next boundary
        while True:
            line = self._body.readline(1 << 16)
            if not line:
                return None
            if line.strip() in self._boundaries:
                self._pending_boundary = True
                break
            if self._is_end(line):                     # the closing boundary: this part is the last
                break
            data += line
            if len(data) > MAX_FRAME_BYTES:
                raise SourceError(f"stream {redact(self.url)}: a part ran past {MAX_FRAME_BYTES >> 20} MB "
                                  f"without ending; is it an MJPEG stream?")
        return bytes(data).rstrip(b"\r\n")

    def _is_end(self, line: bytes) -> bool:
        """The closing boundary (--boundary--)."""
        return any(line.strip() == b + b"--" for b in self._boundaries)

    def release(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = self._body = None
