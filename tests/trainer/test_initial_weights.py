"""Weights read back from a float TFLite file: a shipped model rebuilt in Keras must compute
what the shipped file computes, and training can start from it (train.initial_weights)."""
import json
import os

import numpy as np
import pytest

from bfcnn.config import ConfigError, load_pipeline, parse_pipeline

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _shipped_core(name):
    from bfcnn.trainer import tflite_weights
    from bfcnn.trainer.models import multiscale
    from bfcnn.zoo import resolve
    cfg = load_pipeline(os.path.join(REPO, "configs", f"{name}.json"))
    built = multiscale.build(cfg.model)
    path = resolve(name).file_for("none")
    return cfg, built, path, tflite_weights.load_into(built.core, path)


# a file pruned at export (dead top level, card: pruned_levels) loads into its full recipe with
# that level zeroed: test_dead_levels covers it (no shipped file is pruned now)
@pytest.mark.parametrize("name", ["edge_gray_realtime", "resnet_5x5_bn_3x3", "edge_gray_quality"])
def test_rebuilt_keras_model_matches_shipped_file(name, datasets):
    cfg, built, path, loaded = _shipped_core(name)
    assert loaded >= 10
    from bfcnn.trainer.tflite_convert import numpy_pyramid, run_tflite
    from bfcnn.zoo import resolve
    from tests.conftest import noisy_pair
    _, noisy = noisy_pair(os.path.join(datasets, "BSD68", "test003.png"), 25, gray=True)
    img = noisy[:128, :128, None].astype(np.float32) / 255.0
    pyr = numpy_pyramid(img, cfg.model.levels)
    with open(path, "rb") as f:   # a file pruned at export (card: pruned_levels) takes fewer levels
        shipped = run_tflite(f.read(), pyr[:resolve(name).levels])
    keras_out = np.asarray(built.core(pyr))
    assert np.max(np.abs(keras_out - shipped)) < 1e-4
    assert np.max(np.abs(keras_out - img[None])) > 0.05   # it denoises: not an identity by accident


def test_wrong_architecture_is_refused_with_the_layer_name():
    from bfcnn.trainer import tflite_weights
    from bfcnn.trainer.models import multiscale
    from bfcnn.zoo import resolve
    cfg = load_pipeline(os.path.join(REPO, "configs", "edge_gray_realtime.json"))
    built = multiscale.build(cfg.model)
    with pytest.raises(tflite_weights.WeightImportError, match="level"):
        tflite_weights.load_into(built.core, resolve("resnet_5x5_bn_3x3").file_for("none"))


def test_quantized_file_is_refused():
    from bfcnn.trainer import tflite_weights
    from bfcnn.zoo import resolve
    with pytest.raises(tflite_weights.WeightImportError, match="float32 file"):
        tflite_weights.read_constants(resolve("edge_gray_realtime").file_for("int8"))


def test_unknown_initial_weights_name_fails_with_the_list(tmp_path):
    from bfcnn.trainer import tflite_weights
    with pytest.raises(tflite_weights.WeightImportError, match="Shipped models"):
        tflite_weights.locate("edge_grey_realtime", str(tmp_path))


def _first_logged_step(tmp_path, datasets, initial_weights: str, config: str = "edge_gray_realtime") -> dict:
    from bfcnn.trainer.train_loop import train
    cfg = json.load(open(os.path.join(REPO, "configs", f"{config}.json")))
    cfg["dataset"]["directory"] = os.path.join(datasets, "Train400")
    cfg["dataset"].update(batch_size=4, input_shape=[64, 64, 1])
    cfg["train"].update(total_steps=20, checkpoint_every=20, visualization_every=0,
                        initial_weights=initial_weights)
    cfg["train"]["optimizer"].update(learning_rate=1e-7)   # 20 steps that change nothing
    path = tmp_path / f"cfg{bool(initial_weights)}.json"
    path.write_text(json.dumps(cfg))
    run = tmp_path / f"run{bool(initial_weights)}"
    train(load_pipeline(str(path)), str(run), progress=False)
    return json.loads((run / "train_log.jsonl").read_text().splitlines()[0])


def test_training_starts_from_the_shipped_function(tmp_path, datasets):
    """Same config and batches, learning rate 1e-7: from edge_gray_realtime's weights the first
    logged batch is already denoised like the shipped model; from a fresh init it is not."""
    shipped = _first_logged_step(tmp_path, datasets, "edge_gray_realtime")
    fresh = _first_logged_step(tmp_path, datasets, "")
    assert shipped["psnr"] > shipped["psnr_noisy"] + 4.0
    assert fresh["psnr"] < fresh["psnr_noisy"] + 1.0
    assert shipped["psnr_noisy"] == pytest.approx(fresh["psnr_noisy"])   # same batches


def test_batchnorm_model_starts_from_the_shipped_function(tmp_path, datasets):
    """resnet_5x5_bn_3x3 has 30 batch norms: the float file holds only their folded scales, so
    the loader measures the moments on training batches and splits each scale into gamma and
    moment; with statistics frozen the first batch is denoised like the shipped model."""
    shipped = _first_logged_step(tmp_path, datasets, "resnet_5x5_bn_3x3", config="resnet_5x5_bn_3x3")
    assert shipped["psnr"] > shipped["psnr_noisy"] + 4.0


def test_recalibration_keeps_the_function_and_measures_the_moments():
    from bfcnn.trainer import tflite_weights
    from bfcnn.trainer.tflite_convert import numpy_pyramid
    from bfcnn.trainer.layers import ScaleOnlyBatchNorm
    from bfcnn.trainer.models import multiscale
    import keras
    cfg = parse_pipeline({"model": {"levels": 2, "filters": 8, "no_layers": 2, "batchnorm": True,
                                    "input_shape": ["?", "?", 1]}})
    built = multiscale.build(cfg.model)
    rng = np.random.default_rng(0)
    bns = [l for l in tflite_weights.iter_layers(built.core) if isinstance(l, ScaleOnlyBatchNorm)]
    for bn in bns:   # what a TFLite import leaves: moment 1, gamma = the folded scale
        bn.set_weights([rng.uniform(0.5, 4.0, 8).astype(np.float32), np.ones(8, np.float32)])
    pyrs = [numpy_pyramid(rng.random((32, 32, 1), dtype=np.float32), 2) for _ in range(3)]
    before = [np.asarray(built.core(p)) for p in pyrs]
    assert tflite_weights.recalibrate_batchnorm(built.core, pyrs) == len(bns) == 6
    probe = keras.Model(built.core.inputs, [bn.input for bn in bns])
    measured = np.mean([[np.mean(np.square(np.asarray(o)), axis=(0, 1, 2)) for o in probe(p)] for p in pyrs], axis=0)
    for bn, want in zip(bns, measured):
        np.testing.assert_allclose(bn.get_weights()[1], want, rtol=1e-5)
        assert not np.allclose(want, 1.0)                 # a real change, not a no-op
    for p, b in zip(pyrs, before):
        np.testing.assert_allclose(np.asarray(built.core(p)), b, rtol=1e-4, atol=1e-6)


def test_loss_terms_are_validated():
    base = {"loss": {"mae_multiplier": 0.0, "mse_multiplier": 0.0}}
    with pytest.raises(ConfigError, match="nothing trains the output"):
        parse_pipeline(base)
    with pytest.raises(ConfigError, match="loss.level_multiplier"):
        parse_pipeline({"loss": {"level_multiplier": 1.0}, "model": {"levels": 1}})
    with pytest.raises(ConfigError, match="loss.log_mse_multiplier: must be >= 0"):
        parse_pipeline({"loss": {"log_mse_multiplier": -1.0}})


def test_partial_import_loads_only_the_named_levels():
    """A new, wider level 0 over the shipped coarse levels: levels 1-3 get the shipped
    weights exactly, level 0 keeps its fresh initialisation."""
    from bfcnn.trainer import tflite_weights
    from bfcnn.trainer.models import multiscale
    from bfcnn.zoo import resolve
    data = json.load(open(os.path.join(REPO, "configs", "edge_gray_quality.json")))
    data["model"].update(filters=[16, 32, 64, 64])
    built = multiscale.build(parse_pipeline(data).model)
    fresh = {l.name: l.get_weights() for l in tflite_weights.iter_layers(built.core) if l.weights}
    path = resolve("edge_gray_quality").file_for("none")
    with pytest.raises(tflite_weights.WeightImportError, match="level0_stem"):
        tflite_weights.load_into(built.core, path)            # level 0 differs: refused whole
    n = tflite_weights.load_into(built.core, path, levels=[1, 2, 3])
    _, shipped, _, _ = _shipped_core("edge_gray_quality")
    ref = {l.name: l.get_weights() for l in tflite_weights.iter_layers(shipped.core) if l.weights}
    assert n == sum(1 for name in ref if not name.startswith("level0_"))
    for layer in tflite_weights.iter_layers(built.core):
        if not layer.weights:
            continue
        want = fresh[layer.name] if layer.name.startswith("level0_") else ref[layer.name]
        for got, expected in zip(layer.get_weights(), want):
            np.testing.assert_array_equal(got, expected)


def test_initial_weights_levels_are_validated():
    with pytest.raises(ConfigError, match=r"initial_weights_levels\[0\]: level 4 does not exist"):
        parse_pipeline({"model": {"levels": 2}, "dataset": {"input_shape": [64, 64, 1]},
                        "train": {"initial_weights": "x", "initial_weights_levels": [4]}})
    with pytest.raises(ConfigError, match="set train.initial_weights too"):
        parse_pipeline({"train": {"initial_weights_levels": [0]}})


def test_a_pinned_start_file_is_checked(tmp_path):
    """train.initial_weights_sha256: the shipped file's own hash passes; any other hash (the file
    a recipe started from, since replaced) stops with both hashes and the fix."""
    from bfcnn.trainer import tflite_weights
    from bfcnn.zoo import resolve
    shipped = resolve("edge_gray_realtime").quantization["none"]["sha256"]
    path = tflite_weights.locate("edge_gray_realtime", str(tmp_path), shipped)
    assert tflite_weights.file_sha256(path) == shipped
    other = "0" * 64
    with pytest.raises(tflite_weights.WeightImportError, match=f"{shipped}.*{other}.*clear initial_weights_sha256"):
        tflite_weights.locate("edge_gray_realtime", str(tmp_path), other)


@pytest.mark.parametrize("train, match", [
    ({"initial_weights_sha256": "a" * 64}, "set train.initial_weights too"),
    ({"initial_weights": "edge_gray_realtime", "initial_weights_sha256": "ABC"}, "64 lowercase hex digits"),
])
def test_initial_weights_sha256_is_validated(train, match):
    with pytest.raises(ConfigError, match=match):
        parse_pipeline({"train": train})
