"""The runtime never imports TensorFlow (checked in a clean subprocess)."""
import subprocess
import sys

from tests.conftest import REPO


def test_runtime_import_and_inference_load_no_tensorflow():
    code = (
        "import sys, numpy as np, bfcnn, bfcnn.runtime, bfcnn.runtime.cli\n"
        "from bfcnn.runtime import Denoiser\n"
        "Denoiser(bfcnn.list_models()[0], num_threads=1)(np.zeros((8, 8, 3), np.uint8))\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras', 'jax')]\n"
        "print('LOADED', bad)\n"
        "sys.exit(1 if bad else 0)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "LOADED []" in res.stdout
