"""Nothing lost: temporary names never collide with inputs, SIGTERM and double Ctrl-C leave a
playable file, same names in different folders stay apart, symlinks cannot trick the
never-overwrite rule, one bad file does not end a batch, and huge decodes are refused."""
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib

import cv2
import numpy as np
import pytest

from bfcnn.runtime import cli

CLIP = os.path.join(cli.SAMPLES, "sample_clip.mp4")
IMAGE = os.path.join(cli.SAMPLES, "sample_image.png")


def _frames(path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def _long_clip(path, frames=900):
    """A clip long enough to be interrupted halfway (the sample clip looped)."""
    cap = cv2.VideoCapture(CLIP)
    src = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        src.append(f)
    h, w = src[0].shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 12, (w, h))
    for i in range(frames):
        out.write(src[i % len(src)])
    out.release()


def test_temporary_name_never_is_the_input(tmp_path):
    inp = tmp_path / "clip.part.mp4"
    shutil.copy(CLIP, inp)
    before = inp.read_bytes()
    assert cli.main(["--input", str(inp), "--output", str(tmp_path / "clip.mp4")]) == 0
    assert inp.read_bytes() == before
    assert _frames(tmp_path / "clip.mp4") == _frames(CLIP)
    assert not list(tmp_path.glob(".*part*"))


@pytest.mark.parametrize("signals,gap", [([signal.SIGTERM], 0.0), ([signal.SIGINT, signal.SIGINT], 0.03),
                                         # the second while the interpreter exits: Python has reset
                                         # its handlers by then, a kill unless the CLI ignores it
                                         ([signal.SIGINT, signal.SIGTERM], 0.13)])
def test_sigterm_and_double_ctrl_c_leave_a_playable_file(tmp_path, signals, gap):
    clip = tmp_path / "long.mp4"
    _long_clip(clip)
    out = tmp_path / "out.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "bfcnn.runtime.cli", "--input", str(clip), "--output", str(out),
                             "--threads", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not list(tmp_path.glob(".*part*")) and time.time() < deadline:   # writing has begun
        time.sleep(0.05)
    time.sleep(0.5)
    for sig in signals:
        proc.send_signal(sig)
        time.sleep(gap)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert out.exists(), err[-2000:]
    assert 0 < _frames(out) < 900
    assert not list(tmp_path.glob(".*part*"))


def test_a_signal_marks_the_outer_interrupts_and_the_second_is_ignored():
    from bfcnn.runtime.pipeline import Interrupts
    before = signal.getsignal(signal.SIGINT)
    with Interrupts() as outer:
        with Interrupts() as inner:
            with pytest.raises(KeyboardInterrupt):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(1.0)
            os.kill(os.getpid(), signal.SIGINT)       # ignored: the first one is being handled
            time.sleep(0.05)
        assert inner.fired and outer.fired
        os.kill(os.getpid(), signal.SIGTERM)          # the outer knows, and ignores it too
        time.sleep(0.05)
    assert signal.getsignal(signal.SIGINT) is before  # a library caller gets its handlers back


def test_same_names_in_different_folders_stay_apart(tmp_path):
    for sub in ("a", "b"):
        (tmp_path / "in" / sub).mkdir(parents=True)
        img = cv2.imread(IMAGE)
        cv2.imwrite(str(tmp_path / "in" / sub / "x.png"), img if sub == "a" else 255 - img)
    assert cli.main(["--input", str(tmp_path / "in" / "**" / "*.png"), "--output", str(tmp_path / "out")]) == 0
    a, b = cv2.imread(str(tmp_path / "out" / "a" / "x.png")), cv2.imread(str(tmp_path / "out" / "b" / "x.png"))
    assert a is not None and b is not None and np.abs(a.astype(int) - b).mean() > 50


def test_output_that_is_the_input_through_a_symlink_is_refused(tmp_path, capsys):
    inp = tmp_path / "a.png"
    shutil.copy(IMAGE, inp)
    (tmp_path / "link.png").symlink_to(inp)
    before = inp.read_bytes()
    assert cli.main(["--input", str(inp), "--output", str(tmp_path / "link.png")]) == 2
    assert "would overwrite an input" in capsys.readouterr().err
    assert inp.read_bytes() == before


def test_bad_files_are_skipped_and_the_batch_goes_on(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    (src / "0_broken.mp4").write_bytes(b"not a video at all" * 100)
    shutil.copy(CLIP, src / "1_good.mp4")
    shutil.copy(IMAGE, src / "2_good.png")
    os.mkfifo(src / "3_pipe.png")                     # would block a reader forever
    code = cli.main(["--input", str(src), "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1 and "0_broken.mp4" in err
    assert sorted(os.listdir(tmp_path / "out")) == ["1_good.mp4", "2_good.png"]


def test_video_output_must_be_a_video_name(tmp_path, capsys):
    assert cli.main(["--input", CLIP, "--output", str(tmp_path / "out.png")]) == 2
    assert ".mp4 or .avi" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def _png_header_only(path, w, h):
    """A small PNG whose header claims w x h (a decompression bomb stand-in)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100))
                     + chunk(b"IEND", b""))


def test_huge_decodes_are_refused_fast(tmp_path, capsys):
    bomb = tmp_path / "bomb.png"
    _png_header_only(bomb, 20000, 20000)
    t = time.perf_counter()
    assert cli.main(["--input", str(bomb), "--output", str(tmp_path / "out")]) == 1
    assert time.perf_counter() - t < 10
    assert "pixel limit" in capsys.readouterr().err
    # the flag raises the cap: a real 64x48 image under a cap of 4000 pixels is refused, over it not
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), np.zeros((48, 64, 3), np.uint8))
    assert cli.main(["--input", str(small), "--output", str(tmp_path / "o2"), "--max-pixels", "3000"]) == 1
    assert cli.main(["--input", str(small), "--output", str(tmp_path / "o3"), "--max-pixels", "4000"]) == 0


def test_alpha_and_bit_depth_losses_are_said(tmp_path, capsys):
    img = np.zeros((32, 32, 4), np.uint16)
    img[..., 3] = 65535
    cv2.imwrite(str(tmp_path / "deep.png"), img)
    assert cli.main(["--input", str(tmp_path / "deep.png"), "--output", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "16-bit" in err and "alpha channel dropped" in err


def _tiff_header_only(path, w, h, big_endian=False):
    """An 8 KB TIFF whose first page claims w x h, zlib-compressed zeros (an 8 KB file of this
    kind reached 3.6 GB in the decoder before it was refused)."""
    e = ">" if big_endian else "<"
    data = zlib.compress(b"\0" * 200000)[:8000]
    entries = [(256, 4, 1, w), (257, 4, 1, h), (258, 3, 1, 8), (259, 3, 1, 8), (262, 3, 1, 1),
               (273, 4, 1, 8 + 2 + 12 * 9 + 4), (277, 3, 1, 1), (278, 4, 1, h), (279, 4, 1, len(data))]
    ifd = struct.pack(e + "H", len(entries))
    for tag, kind, count, value in entries:
        ifd += struct.pack(e + "HHI", tag, kind, count) + (struct.pack(e + "HH", value, 0) if kind == 3
                                                           else struct.pack(e + "I", value))
    ifd += struct.pack(e + "I", 0)
    path.write_bytes((b"MM\x00*" if big_endian else b"II*\x00") + struct.pack(e + "I", 8) + ifd + data)


@pytest.mark.parametrize("big_endian", [False, True])
def test_every_image_format_is_bounded_before_decoding(tmp_path, capsys, big_endian):
    """--max-pixels was checked before decoding for PNG and JPEG only; TIFF, BMP and WebP headers
    are read too, and formats whose size cannot be read first are refused, not decoded."""
    from bfcnn.runtime.sources import header_size
    bomb = tmp_path / "bomb.tif"
    _tiff_header_only(bomb, 60000, 60000, big_endian)
    assert header_size(str(bomb)) == (60000, 60000)
    assert cli.main(["--input", str(bomb), "--output", str(tmp_path / "out")]) == 1
    assert "pixel limit" in capsys.readouterr().err
    img = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    for ext in (".png", ".jpg", ".bmp", ".tif", ".webp"):
        cv2.imwrite(str(tmp_path / f"x{ext}"), img)
        assert header_size(str(tmp_path / f"x{ext}")) == (53, 37), ext
    cv2.imwrite(str(tmp_path / "x.ppm"), img)
    os.replace(tmp_path / "x.ppm", tmp_path / "x_ppm.png")      # another format under a known name
    assert cli.main(["--input", str(tmp_path / "x_ppm.png"), "--output", str(tmp_path / "o")]) == 1
    assert "not a PNG, JPEG, BMP, TIFF or WebP" in capsys.readouterr().err


def test_a_video_over_the_pixel_limit_is_refused_before_decoding(tmp_path, capsys):
    clip = tmp_path / "big.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (320, 240))
    for _ in range(3):
        writer.write(np.zeros((240, 320, 3), np.uint8))
    writer.release()
    assert cli.main(["--input", str(clip), "--output", str(tmp_path / "o.avi"), "--max-pixels", "50000"]) == 1
    assert "pixel limit" in capsys.readouterr().err and not (tmp_path / "o.avi").exists()
    assert cli.main(["--input", str(clip), "--output", str(tmp_path / "o.avi"), "--max-pixels", "80000"]) == 0


def test_a_video_file_refuses_a_frame_of_another_size(tmp_path):
    """OpenCV's writer drops a frame of another size without a word; VideoFile says so and
    keeps the frames before it."""
    from bfcnn.runtime.files import VideoFile
    out = tmp_path / "v.avi"
    video = VideoFile(str(out), 10.0)
    for _ in range(3):
        video.write(np.full((24, 32, 3), 90, np.uint8))
    with pytest.raises(ValueError, match="a 40x24 colour frame after 3 frames of 32x24 colour"):
        video.write(np.full((24, 40, 3), 90, np.uint8))
    video.close()
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    cap.release()
