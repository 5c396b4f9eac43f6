"""backend="onnxruntime": the shipped ONNX files run the same frames to the same outputs as
LiteRT (within 1e-4 on real photos), stay bias-free, and every misuse gets the fix."""
import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

import bfcnn
from bfcnn.runtime import AveragingDenoiser, Denoiser
from tests.conftest import scaled_outputs
from bfcnn.runtime.onnx_core import best_providers
from bfcnn.zoo import DEFAULT_MODEL, ModelError, PRETRAINED_DIR, resolve
from tests.conftest import REPO, require_set

pytest.importorskip("onnxruntime", reason="ONNX Runtime is in the [train] extra .ci/run installs")
WITH_ONNX = [m for m in bfcnn.list_models() if resolve(m).onnx]


def _photo(set_name: str, index: int, size=(240, 320)) -> np.ndarray:
    folder = require_set(set_name)
    img = cv2.imread(os.path.join(folder, sorted(os.listdir(folder))[index]))
    return np.ascontiguousarray(img[:size[0], :size[1]])


def test_the_default_models_ship_an_onnx_file():
    assert DEFAULT_MODEL in WITH_ONNX
    for name in WITH_ONNX:
        entry = resolve(name).onnx
        assert entry["max_abs_diff_vs_tflite"] < 1e-4 and entry["opset"] >= 13


@pytest.mark.parametrize("name", WITH_ONNX)
def test_onnx_matches_litert_on_real_photos(name):
    litert = Denoiser(name, num_threads=2)
    onnx = Denoiser(name, num_threads=2, backend="onnxruntime")
    import onnxruntime
    assert onnx.core.provider == best_providers(onnxruntime.get_available_providers())[0]
    for index in (0, 7):
        img = _photo("Kodak24", index).astype(np.float32) / np.float32(255.0)
        noisy = np.clip(img + np.random.default_rng(index).normal(0, 0.06, img.shape), 0, 1).astype(np.float32)
        a, b = litert(noisy), onnx(noisy)
        assert np.abs(a - b).max() < 1e-4
        assert np.mean((a - img) ** 2) < 0.5 * np.mean((noisy - img) ** 2)   # it denoises
    # uint8 frames through the whole front end (pyramid op, padding to the stride)
    frame = _photo("CBSD68", 3, size=(181, 243))
    diff = np.abs(litert(frame).astype(int) - onnx(frame))
    assert diff.max() <= 1 and diff.mean() < 0.01


@pytest.mark.parametrize("name", WITH_ONNX)
def test_onnx_backend_is_homogeneous(name):
    den = Denoiser(name, num_threads=2, backend="onnxruntime")
    y = np.random.default_rng(3).random((64, 96, resolve(name).channels), dtype=np.float32) * np.float32(0.5)
    for a in (0.25, 1.5):
        out, scaled = scaled_outputs(den, y, a)
        assert np.abs(scaled - np.float32(a) * out).max() / (a * np.abs(out).max()) < 2e-4
    assert np.abs(scaled_outputs(den, np.zeros_like(y), 0.0)[1]).max() == 0.0


def test_frame_averaging_on_onnx_follows_litert_frame_by_frame():
    """The stream on the ONNX backend: the same average, the same shifts, the same output to a
    grey level."""
    rng = np.random.default_rng(5)
    clean = _photo("Kodak24", 2)
    litert = AveragingDenoiser(DEFAULT_MODEL, num_threads=2)
    onnx = AveragingDenoiser(DEFAULT_MODEL, num_threads=2, backend="onnxruntime")
    for k in range(5):
        shifted = np.roll(clean, k, axis=1)
        noisy = np.clip(shifted + rng.normal(0, 15, clean.shape), 0, 255).astype(np.uint8)
        a, b = litert(noisy), onnx(noisy)
        assert np.abs(a.astype(int) - b).max() <= 1, k
    assert onnx.stats.frames == 5 and onnx.stats.last_shift == litert.stats.last_shift


def test_providers_best_first():
    assert best_providers(["CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"]) == \
        ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert best_providers(["AzureExecutionProvider", "CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    with pytest.raises(ModelError, match="offers none of"):
        best_providers(["AzureExecutionProvider"])


def test_misuse_names_the_fix(tmp_path):
    with pytest.raises(ValueError, match="backend must be one of litert, onnxruntime"):
        Denoiser(DEFAULT_MODEL, backend="tensorrt")
    with pytest.raises(ValueError, match="float model only"):
        Denoiser("edge_gray_realtime", quantization="int8", backend="onnxruntime")
    no_onnx = next(m for m in bfcnn.list_models() if not resolve(m).onnx)
    with pytest.raises(ModelError, match="--onnx-only"):
        Denoiser(no_onnx, backend="onnxruntime")
    # a damaged ONNX file is refused by its card's sha256 before ONNX Runtime reads it
    copy = tmp_path / "m"
    shutil.copytree(os.path.join(PRETRAINED_DIR, DEFAULT_MODEL), copy)
    data = bytearray((copy / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256 differs"):
        Denoiser(str(copy), backend="onnxruntime")
    card = json.loads((copy / "card.json").read_text())
    card["onnx"]["file"] = "../model.onnx"
    (copy / "card.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="onnx must be"):
        Denoiser(str(copy), backend="onnxruntime")


def test_cli_backend_onnxruntime_writes_the_same_image(tmp_path):
    sample = os.path.join(REPO, "bfcnn", "samples", "sample_image.png")
    outs = {}
    for backend in ("litert", "onnxruntime"):
        out = tmp_path / f"{backend}.png"
        r = subprocess.run([sys.executable, "-m", "bfcnn.runtime.cli", "--input", sample, "--output", str(out),
                            "--backend", backend, "--threads", "2"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert backend in r.stderr + r.stdout
        outs[backend] = cv2.imread(str(out)).astype(int)
    assert np.abs(outs["litert"] - outs["onnxruntime"]).max() <= 1


def _resealed(tmp_path, mutate) -> str:
    """A copy of the default model whose model.onnx `mutate` rewrites (bytes -> bytes, may write
    more files beside it), with the card's sha256 and size updated to match: what someone who
    controls the model folder can do, so only the loader stands between it and a crash."""
    import hashlib
    copy = tmp_path / "m"
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(os.path.join(PRETRAINED_DIR, DEFAULT_MODEL), copy)
    data = mutate((copy / "model.onnx").read_bytes(), copy)
    (copy / "model.onnx").write_bytes(data)
    card = json.loads((copy / "card.json").read_text())
    card["onnx"]["sha256"], card["onnx"]["bytes"] = hashlib.sha256(data).hexdigest(), len(data)
    (copy / "card.json").write_text(json.dumps(card))
    return str(copy)


def test_weights_in_a_separate_data_file_are_refused(tmp_path):
    """The card's sha256 covers model.onnx only, so weights moved to an external data file could
    be changed unseen (seen: up to 227 grey levels); the session is built from the checked bytes,
    where external data cannot load."""
    onnx = pytest.importorskip("onnx")
    from onnx.external_data_helper import convert_model_to_external_data

    def external(data, folder):
        model = onnx.load_from_string(data)
        convert_model_to_external_data(model, all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
        onnx.save_model(model, str(folder / "tmp.onnx"))        # writes weights.bin beside it
        return (folder / "tmp.onnx").read_bytes()

    path = _resealed(tmp_path, external)
    assert os.path.getsize(os.path.join(path, "weights.bin")) > 1000
    with pytest.raises(ModelError, match="model.onnx is not a loadable ONNX model"):
        Denoiser(path, backend="onnxruntime")


def test_every_failure_of_a_damaged_onnx_file_is_a_model_error(tmp_path):
    """Bit flips in model.onnx (card resealed): ONNX Runtime's own exceptions (Fail,
    InvalidProtobuf, InvalidGraph, ...) are not RuntimeError; every load or run failure comes
    out as a ModelError naming the file."""
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)
    failures = 0
    for trial in range(25):
        def flip(data, folder, trial=trial):
            b = bytearray(data)
            for i in np.random.default_rng(trial).integers(0, min(len(b), 2048), 4):   # the graph's head
                b[i] ^= 1 << int(np.random.default_rng(trial + 100).integers(0, 8))
            return bytes(b)
        path = _resealed(tmp_path, flip)
        try:
            Denoiser(path, backend="onnxruntime", num_threads=1)(frame)
        except ModelError as exc:
            assert "model.onnx" in str(exc)
            failures += 1
    assert failures >= 5      # the flips do break files, and each break was a ModelError
