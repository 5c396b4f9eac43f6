"""Scenarios of the bad-input survey that take more than one call: threads sharing a Denoiser,
damaged model files behind honest-looking cards, file batches with traps in them, signals mid-video,
a diverging training run, silent MJPEG clients. Each returns a one-line outcome or raises."""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from typing import Callable, List

import numpy as np

from bfcnn.evaluation import dataset_root
from bfcnn.runtime import Denoiser, cli

def _all_refused(calls) -> str:
    for fn in calls:
        try:
            fn()
        except ValueError:
            continue
        raise AssertionError("accepted")
    return f"all {len(calls)} refused with ValueError (no crash)"


def _sigterm(tmp: str) -> str:
    """SIGTERM, then two Ctrl-C 30 ms apart, mid-video: each must leave a playable file."""
    import signal
    import subprocess
    import time
    import cv2
    cap, frames = cv2.VideoCapture(os.path.join(cli.SAMPLES, "sample_clip.mp4")), []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    clip = os.path.join(tmp, "long.mp4")
    w = cv2.VideoWriter(clip, cv2.VideoWriter_fourcc(*"mp4v"), 12, frames[0].shape[1::-1])
    for i in range(900):
        w.write(frames[i % len(frames)])
    w.release()
    got = []
    for sigs in ([signal.SIGTERM], [signal.SIGINT, signal.SIGINT]):
        folder = tempfile.mkdtemp(dir=tmp)
        out = os.path.join(folder, "out.mp4")
        proc = subprocess.Popen([sys.executable, "-m", "bfcnn.runtime.cli", "--input", clip, "--output", out,
                                 "--threads", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while not [f for f in os.listdir(folder) if ".part" in f] and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        for sig in sigs:
            proc.send_signal(sig)
            time.sleep(0.03)
        proc.wait(timeout=60)
        cap = cv2.VideoCapture(out)
        n = 0
        while cap.read()[0]:
            n += 1
        if proc.returncode != 130 or n == 0:
            raise AssertionError(f"exit {proc.returncode}, {n} frames in the output")
        got.append(f"{n} frames")
    return "exit 130, playable output: " + ", ".join(got)


def _mjpeg_idle() -> str:
    """More idle connections than the cap: the extra get 503 at once, idle ones time out."""
    import socket
    import time
    from bfcnn.runtime import mjpeg
    old = mjpeg.CLIENT_TIMEOUT, mjpeg.MAX_CLIENTS
    mjpeg.CLIENT_TIMEOUT, mjpeg.MAX_CLIENTS = 0.5, 4
    try:
        server = mjpeg.MjpegSink("0")
        port = server.server.server_address[1]
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
        time.sleep(1.5)
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        reply = s.recv(64)
        for c in idle + [s]:
            c.close()
        server.close()
    finally:
        mjpeg.CLIENT_TIMEOUT, mjpeg.MAX_CLIENTS = old
    if b"200" not in reply:
        raise AssertionError(f"after 40 idle connections: {reply!r}")
    return "40 idle connections (cap 4, timeout 0.5 s): the next client is served"
def threads_sharing(den: Denoiser, calls: int = 5, shape=(64, 80, 3)):
    """4 threads call one Denoiser `calls` times each on their own frame: (errors raised, calls
    that returned another frame than the thread's own)."""
    import threading
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(4)]
    want = [den(f) for f in frames]
    errors, wrong = [], []

    def work(i):
        for _ in range(calls):
            try:
                if not np.array_equal(den(frames[i]), want[i]):
                    wrong.append(i)
            except Exception as exc:  # any error here is the defect being looked for
                errors.append(exc)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors, wrong


def _threads_share(den: Denoiser) -> str:
    errors, wrong = threads_sharing(den)
    if errors or wrong:
        raise AssertionError(f"{len(errors)} calls raised, {len(wrong)} returned another thread's frame")
    return "20 calls, each got its own frame"


def _damaged_honest(tmp: str, name: str, q: str) -> str:
    import subprocess
    script = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "runtime",
                          "model_file_fuzz.py")
    res = subprocess.run([sys.executable, script, name, q, "100", "30", tmp], capture_output=True, text=True,
                         timeout=600)
    if res.returncode != 0:
        raise AssertionError((res.stdout + res.stderr)[-300:])
    return res.stdout.strip()


def _cli_files(tmp: str, setup: Callable[[str], List[str]], want: int) -> str:
    """Run the CLI on what setup() made; the exit code must be `want`; report what was written."""
    folder = tempfile.mkdtemp(dir=tmp)
    args = setup(folder)
    code = cli.main(args)
    if code != want:
        raise AssertionError(f"exit {code}, expected {want}")
    written = sorted(os.path.relpath(os.path.join(r, f), folder) for r, _, fs in os.walk(folder) for f in fs)
    return f"exit {code}; files now: {', '.join(written)[:90]}"


def _part_input(folder: str) -> List[str]:
    shutil.copy(os.path.join(cli.SAMPLES, "sample_clip.mp4"), os.path.join(folder, "clip.part.mp4"))
    return ["--input", os.path.join(folder, "clip.part.mp4"), "--output", os.path.join(folder, "clip.mp4")]


def _same_names(folder: str) -> List[str]:
    for sub in ("a", "b"):
        os.makedirs(os.path.join(folder, "in", sub))
        shutil.copy(os.path.join(cli.SAMPLES, "sample_image.png"), os.path.join(folder, "in", sub, "x.png"))
    return ["--input", os.path.join(folder, "in", "**", "*.png"), "--output", os.path.join(folder, "out")]


def _symlink_out(folder: str) -> List[str]:
    src = os.path.join(folder, "a.png")
    shutil.copy(os.path.join(cli.SAMPLES, "sample_image.png"), src)
    os.symlink(src, os.path.join(folder, "link.png"))
    return ["--input", src, "--output", os.path.join(folder, "link.png")]


def _bad_batch(folder: str) -> List[str]:
    os.makedirs(os.path.join(folder, "in"))
    open(os.path.join(folder, "in", "0_broken.mp4"), "wb").write(b"no video" * 50)
    shutil.copy(os.path.join(cli.SAMPLES, "sample_image.png"), os.path.join(folder, "in", "1_good.png"))
    os.mkfifo(os.path.join(folder, "in", "2_fifo.png"))
    return ["--input", os.path.join(folder, "in"), "--output", os.path.join(folder, "out")]


def _bomb(folder: str) -> List[str]:
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    path = os.path.join(folder, "bomb.png")
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0))
                           + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b""))
    return ["--input", path, "--output", os.path.join(folder, "out")]


def _card_field(field: str, value) -> Callable[[str], None]:
    def mutate(d):
        p = os.path.join(d, "card.json")
        card = json.load(open(p))
        card[field] = value
        json.dump(card, open(p, "w"))
    return mutate


def _no_sha(d):
    p = os.path.join(d, "card.json")
    card = json.load(open(p))
    card["quantization"]["none"].pop("sha256")
    json.dump(card, open(p, "w"))


def _file_dev_zero(d):
    p = os.path.join(d, "card.json")
    card = json.load(open(p))
    card["quantization"]["none"]["file"] = "/dev/zero"
    json.dump(card, open(p, "w"))


def _diverging(tmp: str) -> str:
    from bfcnn import train as train_cli
    cfg_path = os.path.join(tmp, "diverge.json")
    json.dump({"model": {"type": "resnet", "levels": 1, "filters": 4, "no_layers": 1, "kernel_regularizer": "none",
                         "batchnorm": False},
               "train": {"total_steps": 20, "checkpoint_every": 5, "visualization_every": 0,
                         "optimizer": {"learning_rate": 1e30, "gradient_clipping_by_norm": 0.0}},
               "dataset": {"directory": os.path.join(dataset_root(), "Set12"), "batch_size": 2,
                           "input_shape": [16, 16, 1], "additional_noise": [25]}}, open(cfg_path, "w"))
    code = train_cli.main(["--model-directory", os.path.join(tmp, "diverge"), "--pipeline-config", cfg_path,
                           "--no-progress"])
    if code != 3:
        raise AssertionError(f"exit {code}: a diverged run must exit 3")
    return "exit 3 'training diverged' at the first non-finite loss; no checkpoint after it"


