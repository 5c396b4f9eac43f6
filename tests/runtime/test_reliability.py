"""Defects found by a careful user and an attacker, each with the test that failed before its fix:
threads sharing a Denoiser, float frames outside [0, 1], an over-long frame side, CLI numbers,
thread counts, and an MJPEG server under idle and excess connections."""
import socket
import threading
import time

import numpy as np
import pytest

from bfcnn.runtime import Denoiser, mjpeg
from bfcnn.runtime.cli import main as cli_main


@pytest.fixture(scope="module")
def den():
    return Denoiser(num_threads=2)


def test_one_denoiser_shared_by_threads_gives_each_its_own_frame(den):
    from benchmarks.bad_input_scenarios import threads_sharing
    errors, wrong = threads_sharing(den, calls=6, shape=(96, 128, 3))
    assert not errors and not wrong


@pytest.mark.parametrize("scale, match", [(255.0, "looks like 0-255 data"), (3e38, "rescale it"),
                                          (-1.0, "rescale it")])
def test_float_frames_outside_unit_range_are_refused(den, scale, match):
    frame = np.full((16, 16, 3), 0.5, np.float32) * np.float32(scale)
    with pytest.raises(ValueError, match=match):
        den(frame)


def test_float_rounding_slack_is_accepted(den):
    frame = np.full((16, 16, 3), 1.0 + 1e-4, np.float32)
    assert den(frame).max() <= 1.0


def test_over_long_side_fails_fast_and_leaves_the_instance_usable(den, monkeypatch):
    good = np.full((32, 48, 3), 120, np.uint8)
    ref = den(good)
    from bfcnn.runtime.core_model import CoreModel
    resized = []
    real = CoreModel._ensure_shape
    monkeypatch.setattr(CoreModel, "_ensure_shape", lambda self, *a, **k: (resized.append(a), real(self, *a, **k))[1])
    with pytest.raises(ValueError, match="exceeds") as info:
        den(np.zeros((2, (1 << 20) + 2), np.uint8))
    assert resized == []                             # refused before the interpreter was resized
    kept = info.value                                # the exception stays referenced, as in a notebook
    assert np.array_equal(den(good), ref) and kept is not None


def test_a_failing_front_end_drops_its_views_of_the_interpreter(den, monkeypatch):
    """Any error between filling the inputs and invoking must not leave numpy views of LiteRT's
    buffers alive (LiteRT then refuses every later call while the exception is referenced)."""
    from bfcnn.runtime import pyramid
    good = np.full((32, 48, 3), 120, np.uint8)
    ref = den(good)

    def boom(*args, **kwargs):
        raise ValueError("front end failed")
    monkeypatch.setattr(pyramid, "pyramid_down", boom)
    with pytest.raises(ValueError, match="front end failed") as info:
        den(good)
    monkeypatch.undo()
    assert np.array_equal(den(good), ref) and info.value is not None


@pytest.mark.parametrize("bad", [0, 65, 2000, True, 2.0])
def test_thread_counts_are_bounded(bad):
    with pytest.raises(ValueError, match="num_threads must be an integer in 1..64"):
        Denoiser(num_threads=bad)


@pytest.mark.parametrize("flags, match", [
    (["--fps", "0"], "--fps must be"), (["--fps", "-5"], "--fps must be"), (["--fps", "nan"], "--fps must be"),
    (["--threads", "2000"], "--threads must be"), (["--max-frames", "0"], "--max-frames must be"),
    (["--width", "0"], "--width must be"), (["--strength", "nan"], "--strength must be"),
])
def test_cli_numbers_are_validated(flags, match, capsys, tmp_path):
    assert cli_main(["--synthetic", "--output", str(tmp_path / "o.mp4")] + flags) == 2
    assert match in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def _get(port, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(b"GET /frame.jpg HTTP/1.0\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return data


def _serving_one_frame(monkeypatch, **limits):
    """An MjpegSink on a free loopback port with mjpeg's module limits set (e.g. MAX_CLIENTS=4),
    serving one black frame; returns (server, port)."""
    for name, value in limits.items():
        monkeypatch.setattr(mjpeg, name, value, raising=False)
    from bfcnn.runtime.pipeline import Frame
    server = mjpeg.MjpegSink("0")
    img = np.zeros((16, 16, 3), np.uint8)
    server.write(Frame(0, "x", img, time.perf_counter(), output=img))
    return server, server.server.server_address[1]


def test_mjpeg_caps_connections_and_drops_idle_clients(monkeypatch):
    server, port = _serving_one_frame(monkeypatch, CLIENT_TIMEOUT=0.5, MAX_CLIENTS=4)
    try:
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]   # say nothing
        time.sleep(0.1)
        assert _get(port).startswith(b"HTTP/1.0 503")     # over the cap: refused at once
        time.sleep(1.0)                                     # idle clients time out ...
        assert b"200 OK" in _get(port)[:40]                 # ... and their slots come back
        for s in idle:
            s.close()
        assert threading.active_count() < 20
    finally:
        server.close()


def test_mjpeg_trickling_clients_lose_their_slot_at_the_request_deadline(monkeypatch):
    """Clients that send a byte now and then never hit the per-read timeout; the whole request
    has a deadline, so they cannot hold every slot (16 such sockets locked viewers out)."""
    # CLIENT_TIMEOUT longer than the test: only the deadline acts
    server, port = _serving_one_frame(monkeypatch, CLIENT_TIMEOUT=30.0, REQUEST_DEADLINE=0.6, MAX_CLIENTS=4)
    try:
        slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
        for s in slow:
            s.sendall(b"G")
        time.sleep(0.1)
        assert _get(port).startswith(b"HTTP/1.0 503")     # every slot held
        cut = 0
        for _ in range(20):                                 # keep trickling, a byte every 0.1 s
            time.sleep(0.1)
            for s in slow:
                try:
                    s.sendall(b"E")
                except OSError:
                    cut += 1
        assert b"200 OK" in _get(port)[:40]                 # the deadline gave the slots back
        for s in slow:
            s.close()
    finally:
        server.close()


@pytest.mark.parametrize("name, quantization", [("edge_gray_realtime", "int8"), ("edge_color_realtime", "none")])
def test_damaged_model_files_with_honest_looking_cards_never_crash(name, quantization, tmp_path):
    """Before the flatbuffer check an int8 file segfaulted in allocate_tensors within ~20 damaged
    copies, and a float file could claim a gigabyte a second."""
    import os
    import subprocess
    import sys
    script = os.path.join(os.path.dirname(__file__), "model_file_fuzz.py")
    res = subprocess.run([sys.executable, script, name, quantization, "0", "60", str(tmp_path)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    assert "60 damaged files" in res.stdout and "refused with ModelError" in res.stdout


@pytest.mark.parametrize("field, value, match", [
    ("stride", 0, "stride must be"), ("stride", "8", "stride must be"), ("levels", 99, "levels must be"),
    ("halo", 7, "halo must be"), ("quantization", [], "quantization must be"), ("quantization", {}, "quantization must be"),
    ("quantization", {"none": {"file": "/dev/zero", "sha256": "0" * 64}}, "quantization.none must be"),
    ("quantization", {"none": {"file": "model.tflite"}}, "quantization.none must be"),
    ("channels", 2, "channels must be"),
])
def test_malformed_cards_are_refused_by_field(field, value, match, tmp_path):
    import json
    import shutil
    from bfcnn.zoo import ModelError, resolve
    dst = tmp_path / "m"
    shutil.copytree(resolve("edge_gray_realtime").directory, dst)
    doc = json.load(open(dst / "card.json"))
    doc[field] = value
    json.dump(doc, open(dst / "card.json", "w"))
    with pytest.raises(ModelError, match=match):
        Denoiser(str(dst))


def test_deeply_nested_card_is_refused(tmp_path):
    import shutil
    from bfcnn.zoo import ModelError, resolve
    dst = tmp_path / "m"
    shutil.copytree(resolve("edge_gray_realtime").directory, dst)
    (dst / "card.json").write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(ModelError, match="card"):
        Denoiser(str(dst))
