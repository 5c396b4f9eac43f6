"""model.noise_input: training measures each crop's noise maps as the runtime builds them from a
profile, a blind model's file loads as the same function, and a noise-conditioned model trains,
exports (float, dynamic; int8 refused) and runs in the runtime with its maps."""
import dataclasses
import json
import os

import cv2
import numpy as np
import pytest

from bfcnn.config import ConfigError, load_pipeline, parse_pipeline
from bfcnn.runtime import noise, noise_maps
from tests.conftest import DATASETS, noisy_pair, psnr
from tests.trainer.tiny import tiny_config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_training_measures_the_maps_the_runtime_builds():
    """data.noise.level_stds (TensorFlow, per crop) = the profile noise.from_pair measures on the
    same pair, through noise_maps.level_factors: one definition of the maps on both sides."""
    import tensorflow as tf
    from bfcnn.trainer.data.noise import level_stds
    clean, _ = noisy_pair(os.path.join(DATASETS, "Kodak24", "kodim07.png"), 0)
    clean = clean[:128, :192].astype(np.float32) / 255.0
    rng = np.random.default_rng(0)
    field = cv2.GaussianBlur(rng.normal(0, 1, clean.shape).astype(np.float32), (0, 0), 0.8)
    noisy = clean + field * np.float32([0.03, 0.05, 0.04]) / field.std()   # correlated, per-channel level
    got = level_stds(tf.constant(noisy[None]), tf.constant(clean[None]), 3).numpy()[0]   # [levels, C]
    p = noise.from_pair(noisy, clean)
    assert p.correlation[0] > 1.4                                  # the field is correlated
    rms = np.sqrt(np.mean(np.square(noisy - clean), axis=(0, 1)))
    want = noise_maps.level_factors(p.correlation, 3)[:, None] * rms[None, :]
    assert np.allclose(got, want, rtol=2e-3), (got, want)


def test_a_blind_file_loads_into_a_noise_model_as_the_same_function():
    from bfcnn.trainer import tflite_weights
    from bfcnn.trainer.models import multiscale
    from bfcnn.trainer.tflite_convert import numpy_pyramid, run_tflite
    from bfcnn.zoo import resolve
    card = resolve("edge_color_realtime")
    cfg = parse_pipeline({"model": card.architecture, "dataset": {"directory": "unused", "color_mode": "rgb", "input_shape": [64, 64, 3]}}, REPO)
    built = multiscale.build(dataclasses.replace(cfg.model, noise_input=True))
    tflite_weights.load_into(built.core, card.file_for("none"))
    rng = np.random.default_rng(1)
    pyr = numpy_pyramid(rng.random((64, 64, 3), dtype=np.float32), 3)
    maps = [np.full_like(p, 0.1) for p in pyr]
    with open(card.file_for("none"), "rb") as f:
        blind = run_tflite(f.read(), pyr)
    assert np.abs(np.asarray(built.core(pyr + maps)) - blind).max() < 1e-4


def _noise_config(tmp_path, **model):
    path = tiny_config(tmp_path, steps=120)
    cfg = json.loads(open(path).read())
    cfg["model"].update({"noise_input": True, **model})
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def test_config_refuses_what_a_noise_model_cannot_train(tmp_path):
    path = _noise_config(tmp_path)
    cfg = json.loads(open(path).read())
    cfg["train"]["iterations_choice"] = [1, 2]
    with pytest.raises(ConfigError, match="iterations_choice"):
        parse_pipeline(cfg, str(tmp_path))


def test_a_noise_model_trains_exports_and_runs(tmp_path, datasets):
    from bfcnn.runtime import Denoiser
    from bfcnn.trainer.export import ExportError, export
    from bfcnn.trainer.train_loop import train
    path = _noise_config(tmp_path)
    cfg = load_pipeline(path)
    result = train(cfg, str(tmp_path / "model"), progress=False)
    assert result.steps == 120 and not result.interrupted
    with pytest.raises(ExportError, match="noise-conditioned"):
        export(cfg, str(tmp_path / "model"), str(tmp_path / "int8"), "tiny_nm", ("int8",))
    card = export(cfg, str(tmp_path / "model"), str(tmp_path / "exported"), "tiny_nm", ("none", "dynamic"))
    assert card["noise_input"] is True
    assert card["export_check"]["none"]["max_abs_diff_vs_keras"] < 1e-4
    clean, noisy = noisy_pair(os.path.join(datasets, "Set12", "08.png"), 25, gray=True)
    true = noise.from_pair(noisy, clean)
    told = Denoiser(str(tmp_path / "exported"), noise=true)(noisy)
    assert psnr(told, clean) > psnr(noisy, clean) + 3.0
    # the map is an input: telling it no noise changes the output
    nothing = noise.NoiseProfile(true.intensity, tuple(tuple(0.0 for _ in row) for row in true.std), true.correlation)
    silent = Denoiser(str(tmp_path / "exported"), noise=nothing)(noisy)
    assert np.abs(silent.astype(int) - told).mean() > 0.5
