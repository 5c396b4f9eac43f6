"""The pipelined loop: live sources drop (and count) late frames with bounded latency, files
keep every frame in order, Ctrl-C leaves a playable file, MJPEG serves real frames, and the
camera adapters (OpenCV, Picamera2 fake) behave."""
import http.client
import json
import os
import sys
import time

import cv2
import numpy as np
import pytest

from bfcnn.runtime import cameras, cli
from bfcnn.runtime.mjpeg import MjpegSink, parse_address
from bfcnn.runtime.pipeline import Frame, StopRun, named, run_stream
from bfcnn.runtime.sinks import VideoSink
from bfcnn.runtime.sources import SourceError

HERE = os.path.dirname(os.path.abspath(__file__))


class Collect:
    def __init__(self, stop_after=None, exc=StopRun):
        self.frames, self.stop_after, self.exc, self.closed = [], stop_after, exc, False

    def write(self, frame: Frame):
        self.frames.append(frame)
        if self.stop_after is not None and len(self.frames) >= self.stop_after:
            raise self.exc()

    def close(self):
        self.closed = True


def slow_identity(delay):
    def fn(img):
        time.sleep(delay)
        return img
    return fn


def test_live_source_drops_late_frames_and_keeps_latency_bounded():
    cam = cameras.SyntheticCamera(64, 48, fps=100, count=150)   # 10 ms per frame
    sink = Collect()
    stats = run_stream(named(cam.frames(), "live"), slow_identity(0.03), [sink], live=True)
    assert stats.captured == 150
    assert stats.dropped > 40                                 # denoiser at ~33 fps vs 100 fps camera
    assert stats.processed + stats.dropped <= stats.captured
    assert stats.processed >= 30
    # newest-frame policy: latency is about one denoise time, not a growing backlog
    assert stats.latency_ms_p95 < 100
    lat = np.array(stats.latencies_ms)
    assert lat[-10:].mean() < lat[:10].mean() + 30            # no drift
    idx = [f.index for f in sink.frames]
    assert idx == sorted(idx) and sink.closed


def test_file_source_processes_every_frame_in_order():
    frames = [(f"f{i}", np.full((8, 8), i, np.uint8)) for i in range(40)]
    sink = Collect()
    stats = run_stream(iter(frames), slow_identity(0.001), [sink], live=False)
    assert [f.index for f in sink.frames] == list(range(40))
    assert [int(f.output[0, 0]) for f in sink.frames] == list(range(40))
    assert stats.dropped == 0 and stats.processed == stats.captured == 40


def test_errors_in_the_denoiser_reach_the_caller_and_sinks_close():
    def boom(img):
        raise ValueError("bad frame")
    sink = Collect()
    with pytest.raises(ValueError, match="bad frame"):
        run_stream(iter([("a", np.zeros((4, 4), np.uint8))]), boom, [sink], live=False)
    assert sink.closed


def _count(path):
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    return n


def test_ctrl_c_leaves_a_playable_video(tmp_path):
    out = tmp_path / "out.mp4"
    frames = [(str(i), np.full((48, 64, 3), 4 * i, np.uint8)) for i in range(50)]
    video = VideoSink(str(out), 25)
    stats = run_stream(iter(frames), lambda x: x, [video, Collect(stop_after=12, exc=KeyboardInterrupt)],
                       live=False)
    assert stats.interrupted
    assert out.exists() and not list(tmp_path.glob("*.part*"))
    assert 11 <= _count(out) <= 12                      # the frame being written when Ctrl-C came may be lost


def test_mjpeg_server_streams_real_frames():
    assert parse_address("8080") == ("127.0.0.1", 8080)
    assert parse_address("0.0.0.0:81") == ("0.0.0.0", 81)
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_address("localhost:http")
    server = MjpegSink("0")
    try:
        assert server.server.server_address[0] == "127.0.0.1"   # loopback unless told otherwise
        host, port = server.server.server_address
        img = np.zeros((48, 64, 3), np.uint8)
        img[:, 32:] = 255
        server.write(Frame(0, "x", img, time.perf_counter(), output=img))
        conn = http.client.HTTPConnection(host, port, timeout=5)
        conn.request("GET", "/stream.mjpg")
        resp = conn.getresponse()
        assert resp.status == 200 and "multipart/x-mixed-replace" in resp.getheader("Content-Type")
        jpegs = []
        for i in range(2):
            assert resp.readline().strip() == b"--frame"
            headers = {}
            while True:
                line = resp.readline().strip()
                if not line:
                    break
                k, v = line.decode().split(":", 1)
                headers[k.lower()] = v.strip()
            jpegs.append(resp.read(int(headers["content-length"])))
            resp.readline()
            if i == 0:
                server.write(Frame(1, "x", img, time.perf_counter(), output=255 - img))
        decoded = [cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR) for j in jpegs]
        assert decoded[0].shape == (48, 128, 3)                   # noisy | denoised side by side
        assert decoded[0][30, 100].mean() > 200 and decoded[1][30, 100].mean() < 50
        conn.close()
    finally:
        server.close()


class FakeCapture:
    """cv2.VideoCapture stand-in: opens or not, then delivers `good` frames and fails."""
    opened = []

    def __init__(self, good, can_open=True, length=0, replay=False):
        self.good, self.can_open, self.reads, self.length, self.replay = good, can_open, 0, length, replay

    def __call__(self, index, backend):
        FakeCapture.opened.append((index, backend))
        if self.replay:          # every open starts the source over (a finite stream reopened)
            self.reads = 0
        return self if self.can_open else FakeCapture(0, False)

    def get(self, prop):
        return float(self.length) if prop == cv2.CAP_PROP_FRAME_COUNT else 0.0

    def isOpened(self):
        return self.can_open

    def set(self, *a):
        return True

    def read(self):
        self.reads += 1
        if self.reads <= self.good:
            return True, np.zeros((4, 4, 3), np.uint8)
        return False, None

    def release(self):
        pass


def test_camera_that_cannot_open_names_device_and_fix():
    with pytest.raises(SourceError, match=r"camera 3 \(/dev/video3\).*video' group"):
        cameras.CameraSource(3, capture_factory=FakeCapture(0, can_open=False))


def test_camera_that_disappears_is_retried_then_ends_cleanly(capsys):
    FakeCapture.opened = []
    cam = cameras.CameraSource(0, retries=3, backoff=0.001, capture_factory=FakeCapture(5))
    frames = list(cam.frames())
    assert len(frames) == 5
    assert len(FakeCapture.opened) == 1 + 3                      # first open + one reopen per retry
    assert "stopped delivering frames" in capsys.readouterr().err


@pytest.fixture
def fake_picamera2(monkeypatch):
    sys.path.insert(0, os.path.join(HERE, "..", "fakes"))
    import picamera2
    monkeypatch.setitem(sys.modules, "picamera2", picamera2)
    picamera2.calls.clear()          # a module-level record: each test sees only its own calls
    yield picamera2
    sys.path.pop(0)


def test_picamera2_main_stream_gives_bgr(fake_picamera2):
    src = cameras.Picamera2Source(64, 48, 30)
    cfg = src.cam.config
    assert cfg["main"] == {"size": (64, 48), "format": "RGB888"}
    assert cfg["controls"]["FrameDurationLimits"] == (33333, 33333)
    assert cfg["controls"]["NoiseReductionMode"] == 1          # the ISP's fast denoiser, as in training
    off = cameras.Picamera2Source(64, 48, 30, isp_denoise="off")
    assert off.cam.config["controls"]["NoiseReductionMode"] == 0
    off.close()
    with pytest.raises(ValueError, match="valid modes are off, fast"):
        cameras.Picamera2Source(64, 48, 30, isp_denoise="max")
    frame = next(src.frames())
    assert frame.shape == (48, 64, 3) and tuple(frame[0, 0]) == (200, 100, 50)
    closed = fake_picamera2.calls.count(("close", 0))
    src.close()
    assert fake_picamera2.calls.count(("close", 0)) == closed + 1


def test_picamera2_lores_luma_path_for_gray_models(fake_picamera2):
    src = cameras.Picamera2Source(64, 48, 15, stream="lores", gray=True)
    assert src.cam.config["lores"]["format"] == "YUV420"
    frame = next(src.frames())
    assert frame.shape == (48, 64) and frame[0, 7] == 97        # the Y plane, untouched
    colour = cameras.Picamera2Source(64, 48, 15, stream="lores")
    bgr = next(colour.frames())
    y, u, v = fake_picamera2.planes(48, 64)                      # what the rows hold, unpadded
    want = cv2.cvtColor(np.concatenate([y.ravel(), u.ravel(), v.ravel()]).reshape(72, 64), cv2.COLOR_YUV2BGR_I420)
    swapped = cv2.cvtColor(np.concatenate([y.ravel(), v.ravel(), u.ravel()]).reshape(72, 64), cv2.COLOR_YUV2BGR_I420)
    assert bgr.shape == (48, 64, 3) and np.array_equal(bgr, want)
    assert np.abs(want.astype(int) - swapped).max() > 20         # the fake's chroma tells U from V


def test_picamera2_missing_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)
    with pytest.raises(SourceError, match="apt install python3-picamera2"):
        cameras.Picamera2Source()


def test_cli_live_synthetic_reports_stats(tmp_path):
    stats_file = tmp_path / "stats.json"
    out = tmp_path / "live.mp4"
    code = cli.main(["--synthetic", "--width", "160", "--height", "120", "--fps", "60", "--max-frames", "40",
                     "--output", str(out), "--stats", str(stats_file), "--threads", "2"])
    assert code == 0
    stats = json.loads(stats_file.read_text())
    assert stats["processed"] == 40                   # a live --max-frames counts processed frames
    assert stats["captured"] >= 40 and stats["processed"] + stats["dropped"] <= stats["captured"]
    assert 0 < stats["latency_ms_p50"] <= stats["latency_ms_p95"]
    # every denoised frame is in the recording, plus repeats where frames were dropped (the file
    # keeps the capture's time: test_cli.test_a_live_recording_plays_in_the_capture_time)
    assert 40 <= _count(out) <= stats["captured"] + 2


def test_cli_explain_pixel_refreshes_filter_in_background(capsys):
    code = cli.main(["--synthetic", "--width", "96", "--height", "64", "--fps", "30", "--max-frames", "75",
                     "--serve", "0", "--explain-pixel", "40,30", "--threads", "1"])
    assert code == 0
    err = capsys.readouterr().err
    import re
    m = re.search(r"explain-pixel \(40, 30\): (\d+) filter updates, (\d+) ms each", err)
    assert m and int(m.group(1)) >= 1, err


def test_cli_explain_pixel_needs_a_view(capsys):
    assert cli.main(["--synthetic", "--max-frames", "3", "--explain-pixel", "1,1"]) == 2
    assert "add --display or --serve" in capsys.readouterr().err


def test_run_statistics_stay_bounded_however_long_the_run():
    """A day at 30 frames/s is 2.6 million frames: per-frame latencies are kept in a fixed-size
    reservoir, the count and maximum exactly, and the percentiles from a uniform sample."""
    from bfcnn.runtime.pipeline import Reservoir, StreamStats
    res = Reservoir(capacity=1000)
    values = np.random.default_rng(0).exponential(30.0, 200_000)
    for v in values:
        res.add(v)
    assert len(res) == 1000 and res.count == 200_000 and res.max == values.max()
    assert abs(np.percentile(np.asarray(res), 95) - np.percentile(values, 95)) < 0.1 * np.percentile(values, 95)
    a, b = StreamStats(), StreamStats()
    for v in range(10):
        a.latencies_ms.add(float(v))
        a.denoise_ms.add(float(v))
    b.latencies_ms.add(100.0)
    b.denoise_ms.add(100.0)
    total = a + b
    assert total.latencies_ms.count == 11 and total.latency_ms_max == 100.0
    assert sorted(np.asarray(total.latencies_ms)) == [float(v) for v in range(10)] + [100.0]   # exact while small


def test_a_source_that_ends_ends(capsys):
    """A finite stream (a 24-frame clip at an http:// URL) was reopened and replayed forever as
    a live one: it ends at its end, opened once; a source with no length that ends right after
    every reopen (a pipeline with num-buffers) ends after `retries` such reopens."""
    FakeCapture.opened = []
    clip = cameras.CameraSource("http://127.0.0.1:9/clip.mp4", capture_factory=FakeCapture(24, length=24, replay=True),
                                backoff=0.001)
    assert len(list(clip.frames())) == 24 and len(FakeCapture.opened) == 1
    assert "ended after 24 frames" in capsys.readouterr().err
    FakeCapture.opened = []
    looping = cameras.CameraSource("rtsp://127.0.0.1:9/x", capture_factory=FakeCapture(5, replay=True),
                                   retries=3, backoff=0.001)
    frames = list(looping.frames())
    assert len(frames) == 5 * (3 + 1) and len(FakeCapture.opened) == 3 + 1    # retries + 1 sessions
    assert "keeps ending right after it opens" in capsys.readouterr().err


def test_a_live_run_with_no_frame_says_so(tmp_path, monkeypatch, capsys):
    """A live source that opens and then gives nothing printed 'wrote' with exit 0 and no file."""
    class Empty(cameras.SyntheticCamera):
        def frames(self):
            return iter(())
    monkeypatch.setattr(cameras, "SyntheticCamera", Empty)
    out = tmp_path / "o.mp4"
    assert cli.main(["--synthetic", "--width", "32", "--height", "24", "--output", str(out)]) == 1
    err = capsys.readouterr()
    assert "gave no frame; nothing written" in err.err and "wrote" not in err.out and not out.exists()


def test_cli_explain_pixel_outside_the_frame_is_said(tmp_path, capsys):
    """An out-of-frame --explain-pixel was accepted and silently never drawn: refused at start
    for sources of a known size, and named in the summary for files."""
    assert cli.main(["--synthetic", "--width", "96", "--height", "64", "--max-frames", "3", "--serve", "0",
                     "--explain-pixel", "96,10"]) == 2
    assert "outside the 96x64 frames: X in 0..95" in capsys.readouterr().err
    photo = tmp_path / "p.png"
    cv2.imwrite(str(photo), np.full((24, 32, 3), 100, np.uint8))
    assert cli.main(["--input", str(photo), "--output", str(tmp_path / "o.png"), "--serve", "0",
                     "--explain-pixel", "50,5"]) == 0
    assert "the pixel is outside the 32x24 frames" in capsys.readouterr().err
