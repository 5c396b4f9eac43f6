"""Every command and snippet of the README, as a new user runs them: each one either runs here
(placeholders such as clip.mp4 and photos/ replaced as PLACEHOLDERS says), is run by the test
named in ELSEWHERE, or needs hardware this machine lacks (HARDWARE, with the reason). A README
line in none of these fails, so the README cannot drift from the code unnoticed."""
import os
import re
import shutil
import subprocess

import cv2
import numpy as np
import pytest

from tests.readme import REPO, bash_blocks, runnable, section

SAMPLES = os.path.join(REPO, "bfcnn", "samples")
README = open(os.path.join(REPO, "README.md"), encoding="utf-8").read()
HEADINGS = re.findall(r"^## (.+)$", README, re.M)

# README text -> what runs here (in a temporary folder prepared by _workspace)
PLACEHOLDERS = {
    "clip.mp4": "the bundled sample clip",
    "photos/": "a folder holding the bundled sample photo",
    "photo.jpg": "the bundled sample photo",
    "frames": "the sample clip's first 12 frames",
    "--camera 0": "--synthetic (the generated live source) with --max-frames 40 where the line has none",
    "--serve 8080": "--serve 0 (any free port)",
}
# lines another test runs as written
ELSEWHERE = {
    "pip install . && bfcnn-runtime": "CI's clean clone (.ci/run) and tests/runtime/test_no_tensorflow.py",
    'pip install -e ".[train,test]"': "CI's own command (.ci/run)",
    "python3 -m venv": "tests/test_board_install.py",
    "pip install --no-deps .": "tests/test_board_install.py",
    "python -c \"import cv2": "tests/test_board_install.py",
    "python -m bfcnn.": "tests/trainer/test_readme_training.py",
    "cp configs/your_photos.json": "tests/trainer/test_readme_training.py",
    "bfcnn-runtime --model runs/": "tests/trainer/test_readme_training.py",
    "--picamera2": "tests/runtime/test_cli.py (the Picamera2 fake)",
}
HARDWARE = {
    "sudo apt install": "Raspberry Pi OS / JetPack packages, root",
    "--display": "a screen and an OpenCV with windows (refusal tested in tests/runtime/test_cli.py)",
    "--gstreamer": "a Jetson's CSI camera and an OpenCV built with GStreamer",
    "rtsp://": "an IP camera (the network path is tested against a served MJPEG stream in "
               "tests/runtime/test_network_sources.py)",
}


def _where(line: str):
    for table in (ELSEWHERE, HARDWARE):
        for key in table:
            if key in line:
                return table[key]
    return None


def _lines():
    return [(h, line) for h in HEADINGS for block in bash_blocks(section(h)) for line in block]


def _workspace(tmp_path):
    (tmp_path / "photos").mkdir()
    shutil.copy(os.path.join(SAMPLES, "sample_image.png"), tmp_path / "photos" / "sample_image.png")
    shutil.copy(os.path.join(SAMPLES, "sample_clip.mp4"), tmp_path / "clip.mp4")


def _here(line: str) -> str:
    if "--camera 0" in line:
        line = line.replace("--camera 0", "--synthetic" + ("" if "--max-frames" in line else " --max-frames 40"))
    return line.replace("--serve 8080", "--serve 0")


RUN_HERE = [(h, line) for h, line in _lines() if _where(line) is None]


def test_every_readme_line_is_run_somewhere_or_says_why_not():
    assert len(RUN_HERE) >= 5, RUN_HERE
    for h, line in _lines():
        assert _where(line) is not None or line.startswith("bfcnn-runtime "), (h, line)


@pytest.mark.parametrize("heading, line", RUN_HERE)
def test_readme_command_runs(heading, line, tmp_path):
    _workspace(tmp_path)
    if "--noise-profile cam.json" in line:          # the line after --calibrate: its file
        calibrate = next(c for _, c in RUN_HERE if "--calibrate cam.json" in c)
        subprocess.run(runnable(_here(calibrate)), cwd=str(tmp_path), check=True, capture_output=True, timeout=600)
    res = subprocess.run(runnable(_here(line)), cwd=str(tmp_path), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, (line, res.stderr[-3000:])
    for out in re.findall(r"--(?:output|stats|calibrate) (\S+)", line):
        path = tmp_path / out
        assert path.exists() and (path.is_dir() and any(path.iterdir()) or path.stat().st_size > 100), (line, out)


def test_readme_python_snippets_run(tmp_path, monkeypatch):
    snippets = re.findall(r"```python\n(.*?)```", README, re.S)
    assert len(snippets) == 2
    shutil.copy(os.path.join(SAMPLES, "sample_image.png"), tmp_path / "photo.jpg")
    monkeypatch.chdir(tmp_path)
    cap = cv2.VideoCapture(os.path.join(SAMPLES, "sample_clip.mp4"))
    frames = [cap.read()[1] for _ in range(12)]
    for code in snippets:
        scope = {"frames": frames}
        exec(compile(code, "README.md", "exec"), scope)
        assert isinstance(scope["clean"], np.ndarray)
        assert scope["clean"].shape == (frames[-1] if "frames" in code else cv2.imread("photo.jpg")).shape
