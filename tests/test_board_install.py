"""README "Raspberry Pi and Jetson": the install that keeps the board's own OpenCV. A venv that
sees the system packages, `pip install --no-deps .` and the runtime's other requirements: cv2
resolves to the system's (here: the test interpreter's own site-packages stands in for
/usr/lib/python3/dist-packages), not a pip copy inside the venv, and the runtime runs on it.
The apt lines need a Pi OS / JetPack machine and are not run here."""
import os
import subprocess
import sys

from tests.readme import REPO, bash_blocks, section



def test_board_install_keeps_the_system_opencv(tmp_path):
    install = bash_blocks(section("Raspberry Pi and Jetson"))[0]
    assert [line for line in install if line.startswith("sudo apt install")], "the apt lines moved"
    venv_line = next(line for line in install if line.startswith("python3 -m venv"))
    pip_line = next(line for line in install if line.startswith("pip install --no-deps ."))
    assert "--system-site-packages" in venv_line
    venv = tmp_path / "bfcnn"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    for part in pip_line.split(" && "):
        args = part.split()[2:]                        # after "pip install"
        args = [REPO if a == "." else a.strip('"') for a in args]
        # offline: the build takes setuptools and pybind11 from the system packages the venv sees
        # (a board's pip downloads them), and the requirements are already there
        res = subprocess.run([py, "-m", "pip", "install", "-q", "--no-index", "--no-build-isolation"] + args,
                             capture_output=True, text=True, timeout=1800, cwd=str(tmp_path))
        assert res.returncode == 0, (part, res.stderr[-3000:])
    res = subprocess.run([py, "-c", "import cv2, bfcnn.runtime.pyramid as p; print(cv2.__file__); print(p.BACKEND)"],
                         capture_output=True, text=True, cwd=str(tmp_path))
    where, backend = res.stdout.split()
    assert not where.startswith(str(venv)), where          # the system's OpenCV, not a pip copy
    assert backend == "cpp"
    res = subprocess.run([str(venv / "bin" / "bfcnn-runtime"), "--max-frames", "2", "--output",
                          str(tmp_path / "o.mp4")], capture_output=True, text=True, cwd=str(tmp_path), timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert os.path.getsize(tmp_path / "o.mp4") > 1000
