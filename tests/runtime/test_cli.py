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
