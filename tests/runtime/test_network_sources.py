"""Network cameras: `--input rtsp://... / http://...` through OpenCV's FFmpeg backend, with the
cameras' reconnect-with-backoff, tested end to end by pointing one bfcnn-runtime at another's
MJPEG stream; GStreamer pipelines get a clear error where OpenCV lacks GStreamer."""
import json
import re
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from bfcnn.runtime import cameras, cli
from bfcnn.runtime.sources import SourceError, video_frames
from tests.runtime.test_stream import FakeCapture


@pytest.fixture
def mjpeg_server():
    """A second bfcnn-runtime serving a synthetic camera's view at http://127.0.0.1:PORT/."""
    proc = subprocess.Popen([sys.executable, "-m", "bfcnn.runtime.cli", "--synthetic", "--width", "160",
                             "--height", "120", "--fps", "15", "--serve", "127.0.0.1:0", "--threads", "1",
                             "--no-temporal"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = None
    deadline = time.time() + 60
    while url is None and time.time() < deadline:
        line = proc.stderr.readline()
        m = re.search(r"serving the view at (http://\S+)", line)
        url = m.group(1).rstrip("/") if m else None
    assert url, "the serving bfcnn-runtime did not start"
    try:
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_one_runtime_denoises_another_runtimes_stream(mjpeg_server, tmp_path):
    url, _ = mjpeg_server
    out, stats = tmp_path / "net.mp4", tmp_path / "net.json"
    code = cli.main(["--input", f"{url}/stream.mjpg", "--max-frames", "8", "--output", str(out),
                     "--stats", str(stats), "--threads", "1"])
    assert code == 0
    data = json.loads(stats.read_text())
    assert data["processed"] == 8 and data["temporal_model"] == "frame averaging + edge_color_realtime"
    frames = list(video_frames(str(out))[1])
    # the 8 denoised frames, each repeated over the time the served stream took to deliver it
    seconds = data["captured"] / data["capture_fps"]
    assert 8 <= len(frames) and abs(len(frames) / 30.0 - seconds) < 0.25 * seconds + 0.1, (len(frames), data)
    assert frames[0].shape == (120, 320, 3)              # the served view: noisy | denoised
    assert frames[-1].std() > 5                          # a picture, not a blank frame


def test_a_stream_that_goes_away_is_reopened_then_ends_cleanly(mjpeg_server, capsys):
    url, proc = mjpeg_server
    source = cameras.CameraSource(f"{url}/stream.mjpg", retries=2, backoff=0.01)
    got = 0
    for _ in source.frames():
        got += 1
        if got == 3:
            proc.terminate()                             # the camera reboots / the Wi-Fi drops
            proc.wait(timeout=30)
    source.close()
    err = capsys.readouterr().err
    assert got >= 3 and "reopening" in err and "ending the run" in err


def test_urls_use_ffmpeg_and_pipelines_use_gstreamer():
    FakeCapture.opened = []
    cameras.CameraSource("rtsp://192.0.2.1:554/stream", capture_factory=FakeCapture(1))
    cameras.CameraSource("nvarguscamerasrc ! videoconvert ! appsink", capture_factory=FakeCapture(1), gstreamer=True)
    assert FakeCapture.opened == [("rtsp://192.0.2.1:554/stream", cv2.CAP_FFMPEG),
                                  ("nvarguscamerasrc ! videoconvert ! appsink", cv2.CAP_GSTREAMER)]
    assert cameras.is_stream("http://cam.local/video.mjpg") and not cameras.is_stream("clip.mp4")


def test_a_pipeline_without_gstreamer_says_what_to_do(monkeypatch):
    monkeypatch.setattr(cameras, "_has_gstreamer", lambda: False)
    with pytest.raises(SourceError, match="no GStreamer support"):
        cameras.CameraSource("videotestsrc ! appsink", gstreamer=True)


def test_a_pipeline_only_runs_from_its_own_option(tmp_path, monkeypatch, capsys):
    """--input takes files, folders and URLs: a file named with " ! " is a file (its output
    never overwrites it), and a pipeline given to --input (a filesink writes files, a
    tcpclientsink connects out) is never run; pipelines go to --gstreamer."""
    opened = []
    monkeypatch.setattr(cameras.cv2, "VideoCapture", lambda *a: opened.append(a) or FakeCapture(0)(*a))
    assert not cameras.is_stream("holiday ! beach.avi")
    assert not cameras.is_stream("videotestsrc num-buffers=3 ! filesink location=/tmp/x")
    clip = tmp_path / "holiday ! beach.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (32, 24))
    for _ in range(4):
        writer.write(np.full((24, 32, 3), 100, np.uint8))
    writer.release()
    size = clip.stat().st_size
    assert cli.main(["--input", str(clip), "--output", str(clip)]) == 2
    assert "would overwrite an input" in capsys.readouterr().err and clip.stat().st_size == size
    evil = f"videotestsrc num-buffers=3 ! filesink location={tmp_path / 'written'}"
    assert cli.main(["--input", evil, "--max-frames", "2"]) == 2
    assert not (tmp_path / "written").exists()
    assert not [a for a in opened if isinstance(a[0], str) and "filesink" in a[0]]
    with pytest.raises(SourceError, match="--gstreamer"):
        cameras.CameraSource(evil)


def test_an_unreachable_url_is_a_clear_error(capsys):
    code = cli.main(["--input", "http://127.0.0.1:9/nothing.mjpg", "--max-frames", "2"])
    assert code == 2 and "cannot open stream" in capsys.readouterr().err


def _serve_parts(parts):
    """A loopback HTTP server answering GET with multipart/x-mixed-replace made of `parts`
    (each: bytes, or a callable writing to the socket file itself); returns (url, server)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            try:
                for part in parts:
                    if callable(part):
                        part(self.wfile)
                    else:
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                         + str(len(part)).encode() + b"\r\n\r\n" + part + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/stream.mjpg", server


def _jpeg_claiming(w, h):
    """A small JPEG whose frame header says w x h (a decompression bomb stand-in)."""
    import struct
    real = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))[1].tobytes()
    i = real.index(b"\xff\xc0")
    return real[:i + 5] + struct.pack(">HH", h, w) + real[i + 9:]


def test_mjpeg_stream_frames_are_bounded(monkeypatch, capsys):
    """Over HTTP MJPEG a small JPEG stating a huge size decoded past 4 GB, and a part that never
    ended was buffered whole: each JPEG's header is checked before decoding and each part is
    read to a bounded size."""
    from bfcnn.runtime import mjpeg_client
    good = cv2.imencode(".jpg", np.full((48, 64, 3), 120, np.uint8))[1].tobytes()
    url, server = _serve_parts([good, good, _jpeg_claiming(30000, 30000)])
    try:
        source = cameras.CameraSource(url, retries=1, backoff=0.01)
        assert isinstance(source._cap, mjpeg_client.MjpegCapture)
        frames = []
        with pytest.raises(SourceError, match="30000x30000 frame is over"):
            for f in source.frames():
                frames.append(f)
        assert len(frames) == 2 and frames[0].shape == (48, 64, 3)
    finally:
        server.shutdown()
    monkeypatch.setattr(mjpeg_client, "MAX_FRAME_BYTES", 1 << 20)

    def endless(wfile):
        wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n\r\n")
        for _ in range(64):                      # 4 MB of a part with no length and no end
            wfile.write(b"\x00" * 65535 + b"\n")
    url, server = _serve_parts([endless])
    try:
        with pytest.raises(SourceError, match="ran past 1 MB"):
            list(cameras.CameraSource(url, retries=1, backoff=0.01).frames())
    finally:
        server.shutdown()


def test_errors_never_print_a_password(capsys):
    from bfcnn.runtime.mjpeg_client import redact
    assert redact("rtsp://admin:s3cret@192.0.2.1:554/live") == "rtsp://***@192.0.2.1:554/live"
    assert redact("http://cam.local/x.cgi?user=admin&pwd=123&res=1") == "http://cam.local/x.cgi?user=admin&pwd=***&res=1"
    assert redact("http://cam.local/x.mjpg") == "http://cam.local/x.mjpg"
    for url in ("rtsp://admin:s3cret@127.0.0.1:9/live", "http://admin:s3cret@127.0.0.1:9/x.mjpg?token=s3cret"):
        assert cli.main(["--input", url, "--max-frames", "1"]) == 2
        err = capsys.readouterr().err
        assert "cannot open stream" in err and "s3cret" not in err and "***@" in err


def test_ctrl_c_reaches_a_stream_that_is_still_opening():
    """Opening an unreachable stream blocks inside FFmpeg for up to 30 s, where Ctrl-C could not
    reach (a signal waits for the C call to return): the open runs on a helper thread, and the
    interrupt ends the wait while it blocks. The stand-in blocks in long C calls until released:
    in the caller's thread, the interrupt would abort it between two calls and it would never
    finish; on the helper thread it finishes once released."""
    import os
    import signal
    import threading
    released, finished = threading.Event(), threading.Event()
    big = np.random.default_rng(0).random((1500, 1500))

    def slow_factory(device, backend):
        while not released.is_set():
            big @ big                     # long calls in C, like FFmpeg's connect
        finished.set()
        return FakeCapture(1)(device, backend)

    # Ctrl-C as a terminal delivers it: a process started in the background by a
    # non-interactive shell inherits SIGINT ignored, and would wait here forever
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT))
    give_up = threading.Timer(60, released.set)   # a lost interrupt fails the test instead of hanging it
    timer.start()
    give_up.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            cameras.CameraSource("rtsp://192.0.2.1:554/x", capture_factory=slow_factory)
        assert not finished.is_set()      # interrupted while the open was still blocked ...
        released.set()
        assert finished.wait(60)          # ... which then finished by itself on its helper thread
    finally:
        released.set()
        timer.cancel()
        give_up.cancel()
        signal.signal(signal.SIGINT, previous)


def test_mjpeg_parts_of_every_shape(monkeypatch):
    """Parts without Content-Length (kept in one buffer, bounded however short their lines), a
    boundary declared with its leading dashes, the closing boundary, empty parts and a damaged
    header: frames where there are frames, a clean end otherwise, never a traceback."""
    from bfcnn.runtime import mjpeg_client
    good = cv2.imencode(".jpg", np.full((24, 32, 3), 80, np.uint8))[1].tobytes()

    def body(wfile, boundary=b"--frame"):
        wfile.write(boundary + b"\r\nContent-Type: image/jpeg\r\n\r\n" + good + b"\r\n")
        wfile.write(boundary + b"\r\nContent-Length: 0\r\n\r\n\r\n")
        wfile.write(boundary + b"\r\nContent-Type: image/jpeg\r\n\r\n" + good + b"\r\n")
        wfile.write(boundary + b"--\r\n")
    url, server = _serve_parts([body])
    try:
        cap = mjpeg_client.MjpegCapture(url)
        got = [cap.read()[0] for _ in range(3)]
        assert got == [True, True, False]
        cap.release()
    finally:
        server.shutdown()
    monkeypatch.setattr(mjpeg_client, "MAX_FRAME_BYTES", 1 << 20)

    def tiny_lines(wfile):
        wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n\r\n")
        wfile.write(b"x\n" * (1 << 20))          # 2 MB of 2-byte lines
    url, server = _serve_parts([tiny_lines])
    try:
        import tracemalloc
        tracemalloc.start()
        with pytest.raises(SourceError, match="ran past 1 MB"):
            mjpeg_client.MjpegCapture(url).read()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 8 << 20                     # one buffer, not a list of lines
    finally:
        server.shutdown()
    bad = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0"
    url, server = _serve_parts([bad, good])
    try:
        cap = mjpeg_client.MjpegCapture(url)
        assert cap.read()[0] is False            # damaged header: not a frame, no traceback
        cap.release()
    finally:
        server.shutdown()
