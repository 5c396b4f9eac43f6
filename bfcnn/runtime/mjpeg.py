"""A small MJPEG server so a headless Pi can be watched from a browser.

GET /            a page showing the stream
GET /stream.mjpg multipart/x-mixed-replace JPEG stream (the noisy | denoised view)
GET /frame.jpg   the latest view as one JPEG
Binds 127.0.0.1 unless an address is given ("0.0.0.0:8080" to serve the network).
"""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional, Tuple

import cv2

from bfcnn.runtime.pipeline import Frame
from bfcnn.runtime.sinks import View

PAGE = (b"<!doctype html><title>bfcnn</title><body style='margin:0;background:#111'>"
        b"<img src='/stream.mjpg' style='width:100%'></body>")


def parse_address(spec: str) -> Tuple[str, int]:
    """'8080' -> ('127.0.0.1', 8080); 'HOST:PORT' as given. ValueError names the format."""
    host, _, port = spec.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"--serve {spec!r}: expected PORT or HOST:PORT, e.g. 8080 or 0.0.0.0:8080") from None
    if not 0 <= number <= 65535:
        raise ValueError(f"--serve {spec!r}: port must be 0-65535")
    return host or "127.0.0.1", number


class _Latest:
    def __init__(self) -> None:
        self.cv = threading.Condition()
        self.jpeg: Optional[bytes] = None
        self.seq = 0
        self.closed = False

    def publish(self, jpeg: bytes) -> None:
        with self.cv:
            self.jpeg, self.seq = jpeg, self.seq + 1
            self.cv.notify_all()

    def wait_newer(self, seq: int, timeout: float = 1.0) -> Tuple[Optional[bytes], int]:
        with self.cv:
            if self.seq == seq and not self.closed:
                self.cv.wait(timeout)
            return (self.jpeg if self.seq != seq else None), self.seq


def _handler(latest: _Latest):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):  # quiet: the CLI reports what matters
            pass

        def do_GET(self):
            if self.path in ("/", "/index.html"):
                self._send(200, "text/html", PAGE)
            elif self.path == "/frame.jpg":
                jpeg, _ = latest.wait_newer(0 if latest.jpeg is None else -1)
                self._send(200, "image/jpeg", jpeg) if jpeg else self._send(503, "text/plain", b"no frame yet")
            elif self.path == "/stream.mjpg":
                self._stream()
            else:
                self._send(404, "text/plain", b"try / or /stream.mjpg")

        def _send(self, code: int, ctype: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _stream(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            seq = 0
            try:
                while not latest.closed:
                    jpeg, seq = latest.wait_newer(seq)
                    if jpeg is None:
                        continue
                    self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                     + str(len(jpeg)).encode() + b"\r\n\r\n" + jpeg + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                return  # the browser went away
    return Handler


class MjpegSink:
    """Serves the noisy | denoised view of each frame; `url` says where."""

    def __init__(self, address: str = "8080", quality: int = 80, view: Optional[View] = None) -> None:
        host, port = parse_address(address)
        self._latest = _Latest()
        try:
            self.server = ThreadingHTTPServer((host, port), _handler(self._latest))
        except OSError as exc:
            raise ValueError(f"--serve {address}: cannot listen on {host}:{port} ({exc.strerror}); "
                             f"pick another port") from exc
        self.server.daemon_threads = True
        self.quality, self.view = quality, view or View()
        self.url = f"http://{self.server.server_address[0]}:{self.server.server_address[1]}/"
        self._thread = threading.Thread(target=self.server.serve_forever, name="bfcnn-mjpeg", daemon=True)
        self._thread.start()

    def write(self, frame: Frame) -> None:
        ok, buf = cv2.imencode(".jpg", self.view.render(frame), [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if ok:
            self._latest.publish(buf.tobytes())

    def close(self) -> None:
        with self._latest.cv:
            self._latest.closed = True
            self._latest.cv.notify_all()
        self.server.shutdown()
        self.server.server_close()
