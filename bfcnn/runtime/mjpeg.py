"""A small MJPEG server so a headless Pi can be watched from a browser.

GET /            a page showing the stream
GET /stream.mjpg multipart/x-mixed-replace JPEG stream (the noisy | denoised view)
GET /frame.jpg   the latest view as one JPEG
Binds 127.0.0.1 unless an address is given ("0.0.0.0:8080" to serve the network).
At most MAX_CLIENTS connections at once (more get 503 at once, no thread); a client must send
its whole request within REQUEST_DEADLINE seconds, however it trickles it (else 16 sockets
sending a byte every few seconds held every slot); a client silent or not reading for
CLIENT_TIMEOUT seconds is dropped; a client that goes away mid-response is dropped quietly. The
pipeline never waits for a client.
"""
from __future__ import annotations

import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional, Tuple

import cv2

from bfcnn.runtime.pipeline import Frame
from bfcnn.runtime.sinks import View

MAX_CLIENTS = 16
CLIENT_TIMEOUT = 10.0
REQUEST_DEADLINE = 5.0   # s: a client's whole request (line and headers) must arrive within this
_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, socket.timeout, TimeoutError)

# the view (noisy | denoised, with fps and latency drawn in) at the window's width: a phone in
# portrait gets the whole view, scaled, not a crop
PAGE = (b"<!doctype html><meta name='viewport' content='width=device-width,initial-scale=1'>"
        b"<title>bfcnn</title><body style='margin:0;background:#111'>"
        b"<img src='/stream.mjpg' alt='bfcnn view' style='display:block;width:100%;height:auto'></body>")


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
        timeout = CLIENT_TIMEOUT   # socket timeout: idle or stalled clients are dropped

        def log_message(self, fmt, *args):  # quiet: the CLI reports what matters
            pass

        def setup(self):
            super().setup()
            # the per-read socket timeout restarts with every byte; this one does not
            self._deadline = threading.Timer(REQUEST_DEADLINE, self._cut)
            self._deadline.daemon = True
            self._deadline.start()

        def _cut(self) -> None:
            try:
                self.connection.shutdown(socket.SHUT_RDWR)   # the pending read ends; the slot frees
            except OSError:
                pass

        def finish(self):
            self._deadline.cancel()
            super().finish()

        def do_GET(self):
            self._deadline.cancel()          # the whole request arrived in time
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
            try:
                self.wfile.write(body)
            except _GONE:
                return  # the client went away

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
            except _GONE:
                return  # the browser went away or stopped reading
    return Handler


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer with a cap on live connections and no tracebacks for clients that
    vanish: a connection over the cap is answered 503 from the accept thread and closed."""
    daemon_threads = True

    def __init__(self, address, handler) -> None:
        super().__init__(address, handler)
        self._slots = threading.BoundedSemaphore(MAX_CLIENTS)

    def process_request(self, request, client_address) -> None:
        if not self._slots.acquire(blocking=False):
            try:
                request.settimeout(1.0)
                request.sendall(b"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request, client_address) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, _GONE):
            return  # a client's broken connection is its own business, not the pipeline's
        print(f"mjpeg: request from {client_address[0]} failed: {type(exc).__name__}: {exc}", file=sys.stderr)


class MjpegSink:
    """Serves the noisy | denoised view of each frame; `url` says where."""

    def __init__(self, address: str = "8080", quality: int = 80, view: Optional[View] = None) -> None:
        host, port = parse_address(address)
        self._latest = _Latest()
        try:
            self.server = _Server((host, port), _handler(self._latest))
        except OSError as exc:
            raise ValueError(f"--serve {address}: cannot listen on {host}:{port} ({exc.strerror}); "
                             f"pick another port") from exc
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
