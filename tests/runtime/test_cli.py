"""bfcnn-runtime on files: playable output video with the same frame count, folders with a
broken image skipped, never overwriting an input, clear errors with exit code 2."""
import os
import shutil

import cv2
import pytest

from bfcnn.runtime import cli


def _count(path):
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    return n, (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))


def test_default_run_denoises_bundled_clip(tmp_path, capsys):
    out = tmp_path / "out.mp4"
    assert cli.main(["--output", str(out), "--no-display", "--threads", "2"]) == 0
    assert _count(out) == _count(os.path.join(cli.SAMPLES, "sample_clip.mp4"))
    assert f"wrote {out}" in capsys.readouterr().out


def test_max_frames(tmp_path):
    out = tmp_path / "o.mp4"
    assert cli.main(["--input", os.path.join(cli.SAMPLES, "sample_clip.mp4"), "--output", str(out),
                     "--max-frames", "5", "--no-display"]) == 0
    assert _count(out)[0] == 5


def test_folder_skips_unreadable_and_keeps_names(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(os.path.join(cli.SAMPLES, "sample_image.png"), src / "a.png")
    (src / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    # the good file is written, the bad one named, and the exit code says something was skipped
    assert cli.main(["--input", str(src), "--output", str(tmp_path / "out"), "--no-display"]) == 1
    assert sorted(os.listdir(tmp_path / "out")) == ["a.png"]
    err = capsys.readouterr().err
    assert "skipping" in err and "1 input(s) skipped" in err


def test_never_overwrites_input(tmp_path, capsys):
    img = tmp_path / "a.png"
    shutil.copy(os.path.join(cli.SAMPLES, "sample_image.png"), img)
    before = img.read_bytes()
    assert cli.main(["--input", str(img), "--output", str(img), "--no-display"]) == 2
    assert "would overwrite an input" in capsys.readouterr().err
    assert img.read_bytes() == before


@pytest.mark.parametrize("args, match", [
    (["--input", "/no/such/file.png"], "no such file"),
    (["--model", "nope"], "unknown model"),
])
def test_clear_errors(tmp_path, capsys, args, match):
    assert cli.main(args + ["--output", str(tmp_path / "o"), "--no-display"]) == 2
    assert match in capsys.readouterr().err


def test_ensemble_option_improves_the_sample_image(tmp_path, capsys):
    # --ensemble reaches the Denoiser: the 8-pass image is closer to the clean sample
    import numpy as np
    clean = cv2.imread(os.path.join(cli.SAMPLES, "sample_image_clean.png")).astype(np.float64)
    mse = {}
    for n in ("1", "8"):
        out = tmp_path / f"o{n}.png"
        assert cli.main(["--input", os.path.join(cli.SAMPLES, "sample_image.png"), "--output", str(out),
                         "--ensemble", n, "--no-display"]) == 0
        mse[n] = np.mean((cv2.imread(str(out)) - clean) ** 2)
    assert mse["8"] < 0.9 * mse["1"]
    with pytest.raises(SystemExit):   # argparse names the choices
        cli.main(["--ensemble", "3", "--no-display"])
    assert "invalid choice" in capsys.readouterr().err


def test_display_without_windows_exits_2_at_start_naming_the_fix(monkeypatch, capsys, tmp_path):
    """pip's runtime brings opencv-python-headless: --display must say so before any work, not
    crash with OpenCV's traceback on the first frame; on Linux without a display server too."""
    import cv2
    real = cv2.getBuildInformation()
    monkeypatch.setattr(cv2, "getBuildInformation", lambda: real.replace("GUI:", "GUI:   NONE\n  was:", 1))
    assert cli.main(["--synthetic", "--max-frames", "3", "--display"]) == 2
    err = capsys.readouterr().err
    assert "no windows" in err and "--serve" in err and "opencv-python" in err
    monkeypatch.setattr(cv2, "getBuildInformation", lambda: "  GUI:   GTK3\n")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    assert cli.main(["--synthetic", "--max-frames", "3", "--display"]) == 2
    assert "DISPLAY is not set" in capsys.readouterr().err


def test_served_view_says_how_to_watch_from_another_machine():
    assert "--serve 0.0.0.0:8080" in cli.serve_hint("http://127.0.0.1:8080/")
    assert "no password" in cli.serve_hint("http://0.0.0.0:8080/")


def test_a_live_recording_plays_in_the_capture_time(tmp_path, capsys):
    """A live source delivers faster than it is denoised here (30 frames/s captured, 2 threads):
    the recording repeats the frame before for what was dropped, so it lasts as long as the
    capture took instead of playing fast."""
    import json
    out, stats = tmp_path / "live.mp4", tmp_path / "stats.json"
    assert cli.main(["--synthetic", "--max-frames", "15", "--output", str(out), "--stats", str(stats),
                     "--threads", "2"]) == 0
    s = json.loads(stats.read_text())
    cap = cv2.VideoCapture(str(out))
    frames, fps = cap.get(cv2.CAP_PROP_FRAME_COUNT), cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    assert s["processed"] == 15 and frames >= 15
    captured_seconds = s["captured"] / s["capture_fps"]
    assert abs(frames / fps - captured_seconds) < 0.2 * captured_seconds + 2 / fps, (frames, fps, s)
    if frames > 15:
        assert "repeats of the frame before" in capsys.readouterr().err


def test_valid_model_options_reach_the_denoiser(tmp_path):
    """--model, --quantization, --tile and --strength with valid values: the CLI's output is the
    Denoiser's with the same options, byte for byte."""
    import numpy as np
    from bfcnn.runtime import Denoiser
    src = os.path.join(cli.SAMPLES, "sample_image.png")
    out = tmp_path / "out.png"
    assert cli.main(["--input", src, "--output", str(out), "--model", "edge_gray_realtime", "--quantization",
                     "dynamic", "--tile", "64", "--strength", "0.7", "--threads", "2"]) == 0
    want = Denoiser("edge_gray_realtime", quantization="dynamic", tile=64, strength=0.7, num_threads=2)(cv2.imread(src))
    assert np.array_equal(cv2.imread(str(out)), want)


def test_a_video_keeps_the_clips_fps_and_frames(tmp_path):
    clip = os.path.join(cli.SAMPLES, "sample_clip.mp4")
    out = tmp_path / "out.mp4"
    assert cli.main(["--input", clip, "--output", str(out), "--max-frames", "6", "--threads", "2"]) == 0
    fps = [cv2.VideoCapture(p).get(cv2.CAP_PROP_FPS) for p in (clip, str(out))]
    assert _count(out)[0] == 6 and abs(fps[0] - fps[1]) < 0.01, fps


def test_the_readme_picamera2_line_runs_on_the_fake_camera(tmp_path, monkeypatch):
    """README: bfcnn-runtime --picamera2 ... (Picamera2 stood in by tests/fakes/picamera2.py)."""
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fakes"))
    try:
        import picamera2
        monkeypatch.setitem(sys.modules, "picamera2", picamera2)
        out = tmp_path / "pi.mp4"
        assert cli.main(["--picamera2", "--picamera2-stream", "lores", "--model", "edge_gray_realtime",
                         "--width", "64", "--height", "48", "--max-frames", "4", "--output", str(out)]) == 0
        assert _count(out)[0] >= 4
    finally:
        sys.path.pop(0)
