"""The runtime never imports TensorFlow (checked in a clean subprocess)."""
import subprocess
import sys

from tests.conftest import REPO


def test_runtime_import_and_inference_load_no_tensorflow():
    code = (
        "import sys, numpy as np, bfcnn, bfcnn.runtime, bfcnn.runtime.cli, bfcnn.runtime.pipeline\n"
        "import bfcnn.runtime.cameras, bfcnn.runtime.sinks, bfcnn.runtime.mjpeg, bfcnn.runtime.adaptive_filter\n"
        "import bfcnn.explain\n"
        "bfcnn.explain.backend_for(bfcnn.list_models()[0])\n"
        "from bfcnn.runtime import Denoiser\n"
        "Denoiser(bfcnn.list_models()[0], num_threads=1)(np.zeros((8, 8, 3), np.uint8))\n"
        "Denoiser(bfcnn.zoo.DEFAULT_MODEL, num_threads=1, backend='onnxruntime')(np.zeros((8, 8, 3), np.uint8))\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras', 'jax')]\n"
        "print('LOADED', bad)\n"
        "sys.exit(1 if bad else 0)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "LOADED []" in res.stdout


def test_runtime_only_venv_installs_and_runs_without_tensorflow(tmp_path):
    """pip install . into a fresh venv (default extras only): the CLI runs, TensorFlow is absent."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    res = subprocess.run([py, "-m", "pip", "install", "-q", REPO], capture_output=True, text=True, timeout=1800)
    assert res.returncode == 0, res.stderr[-3000:]
    res = subprocess.run([py, "-c", "import tensorflow"], capture_output=True, text=True)
    assert res.returncode != 0 and "No module named" in res.stderr
    out = tmp_path / "o.mp4"
    res = subprocess.run([str(venv / "bin" / "bfcnn-runtime"), "--max-frames", "3", "--output", str(out)],
                         capture_output=True, text=True, cwd=str(tmp_path), timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert out.stat().st_size > 1000
    # ONNX Runtime is an optional extra: without it, the backend says how to get it
    res = subprocess.run([str(venv / "bin" / "bfcnn-runtime"), "--max-frames", "1", "--backend", "onnxruntime",
                          "--output", str(tmp_path / "o2.mp4")], capture_output=True, text=True, cwd=str(tmp_path),
                         timeout=600)
    assert res.returncode == 2 and "pip install onnxruntime" in res.stderr, res.stderr[-3000:]
    res = subprocess.run([py, "-c", "from bfcnn.runtime import pyramid; print(pyramid.BACKEND)"],
                         capture_output=True, text=True, cwd=str(tmp_path))
    assert res.stdout.strip() == "cpp"
    # the trainer's commands in this venv say what to install, not a ModuleNotFoundError traceback
    for cmd in (["bfcnn.train", "--model-directory", "m", "--pipeline-config", REPO + "/configs/edge_color_realtime.json"],
                ["bfcnn.export", "--onnx-only", "edge_color_realtime"]):
        res = subprocess.run([py, "-m"] + cmd, capture_output=True, text=True, cwd=str(tmp_path), timeout=600)
        assert res.returncode == 2 and 'pip install -e ".[train]"' in res.stderr, res.stderr[-3000:]
        assert "Traceback" not in res.stderr
