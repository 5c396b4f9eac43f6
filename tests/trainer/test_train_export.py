"""A real (tiny) training on Train400, exported to every TFLite mode; the int8 model must
denoise a real test image better than its noisy input, and TFLite must match Keras."""
import json
import os

import numpy as np
import pytest

from bfcnn.config import load_pipeline
from tests.conftest import noisy_pair, psnr
from tests.trainer.tiny import tiny_config


@pytest.fixture(scope="module")
def trained(tmp_path_factory, datasets):
    tmp = tmp_path_factory.mktemp("train")
    cfg_path = tiny_config(tmp, steps=300)
    from bfcnn.trainer.train_loop import train
    result = train(load_pipeline(cfg_path), str(tmp / "model"), progress=False)
    assert result.steps == 300 and not result.interrupted
    from bfcnn.trainer.export import export
    card = export(load_pipeline(cfg_path), str(tmp / "model"), str(tmp / "exported"), "tiny",
                  ("none", "float16", "dynamic", "int8"))
    return tmp, card


def test_run_directory_has_resolved_config_command_and_logs(trained):
    tmp, _ = trained
    model_dir = tmp / "model"
    resolved = json.loads((model_dir / "pipeline.json").read_text())
    assert resolved["train"]["total_steps"] == 300 and resolved["model"]["kernel_size"] == 3
    assert (model_dir / "command.txt").read_text().strip()
    log = [json.loads(l) for l in (model_dir / "train_log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 300
    assert log[-1]["psnr"] > log[0]["psnr"] + 1.0  # it learned something
    assert any(p.name.startswith("events") for p in (model_dir / "logs").iterdir())


def test_export_writes_every_file_and_card(trained):
    tmp, card = trained
    out = tmp / "exported"
    for q in ("none", "float16", "dynamic", "int8"):
        assert (out / card["quantization"][q]["file"]).is_file()
    assert (out / "saved_model" / "saved_model.pb").is_file()
    assert card["bias_free"] is True and card["levels"] == 2 and card["halo"] % 2 == 0
    assert card["training_steps"] == 300
    assert card["int8_calibration_sigma"] == pytest.approx(30.0)   # 0.6 x the training top, 50
    on_disk = json.loads((out / "card.json").read_text())
    assert on_disk["quantization"]["int8"]["sha256"] == card["quantization"]["int8"]["sha256"]


def test_tflite_float_matches_keras(trained):
    _, card = trained
    check = card["export_check"]
    assert check["none"]["max_abs_diff_vs_keras"] < 1e-4
    assert check["float16"]["max_abs_diff_vs_keras"] < 1e-2



def test_the_written_files_compute_what_the_written_saved_model_computes(trained, datasets):
    """The card's export_check is measured on the flatbuffers in memory; this reads the files
    back from disk (each checked against the card's sha256 by zoo.verify) and runs them on a
    real noisy test image against the written saved_model, an independent TensorFlow graph."""
    import cv2
    import tensorflow as tf
    from bfcnn.runtime.core_model import CoreModel
    from bfcnn.trainer.tflite_convert import numpy_pyramid
    from bfcnn.zoo import ModelCard, verify
    tmp, _ = trained
    out = tmp / "exported"
    card = ModelCard.from_file(str(out / "card.json"))
    clean = cv2.imread(os.path.join(datasets, "Set12", "01.png"), cv2.IMREAD_GRAYSCALE)[:128, :192]
    noisy = np.clip(clean + np.random.default_rng(1).normal(0, 25, clean.shape), 0, 255).astype(np.float32) / 255
    levels = numpy_pyramid(noisy[:, :, None], card.levels)
    serve = tf.saved_model.load(str(out / "saved_model")).signatures["serving_default"]
    reference = next(iter(serve(**{f"level_{k}": tf.constant(v) for k, v in enumerate(levels)}).values())).numpy()[0]
    clean = clean[:, :, None]
    assert psnr(np.clip(reference * 255, 0, 255), clean) > psnr(noisy[:, :, None] * 255, clean) + 1.0   # it denoises
    for q, bound in (("none", 1e-4), ("float16", 1e-2)):
        got = CoreModel(verify(card, q))([lv[0] for lv in levels])
        assert np.abs(got - reference).max() < bound, q
    for q, floor in (("dynamic", 35.0), ("int8", 28.0)):
        got = CoreModel(verify(card, q))([lv[0] for lv in levels])
        assert psnr(np.clip(got * 255, 0, 255), np.clip(reference * 255, 0, 255)) > floor, q

def test_int8_model_denoises_real_image(trained, datasets):
    tmp, card = trained
    from bfcnn.runtime import Denoiser
    clean, noisy = noisy_pair(os.path.join(datasets, "Set12", "01.png"), 25, gray=True)
    for q in ("int8", "none"):
        out = Denoiser(str(tmp / "exported"), num_threads=2, quantization=q)(noisy)
        assert psnr(out, clean) > psnr(noisy, clean) + 1.0, q


def test_export_without_checkpoint_says_train_first(tmp_path):
    from bfcnn.trainer.export import ExportError, export
    cfg = load_pipeline(tiny_config(tmp_path))
    with pytest.raises(ExportError, match="train first"):
        export(cfg, str(tmp_path / "empty"), str(tmp_path / "out"), "x")


def test_export_refuses_flex_ops(tmp_path):
    import keras
    import tensorflow as tf
    from bfcnn.trainer.tflite_convert import ExportError, convert

    class NeedsFlex(keras.layers.Layer):
        def call(self, x):
            return tf.math.igamma(tf.abs(x) + 1.0, tf.abs(x) + 1.0)

    inp = keras.Input((None, None, 1), name="level_0")
    model = keras.Model(inp, NeedsFlex()(inp))
    with pytest.raises(ExportError, match="Flex"):
        convert(model, 1, "none", [])


def test_export_refuses_a_checkpoint_of_another_architecture(trained, tmp_path):
    """A config with one more block than the run had: export must refuse, not write random weights."""
    from bfcnn.trainer.export import ExportError, export
    tmp, _ = trained
    cfg = json.loads((tmp / "model" / "pipeline.json").read_text())
    cfg["model"]["no_layers"] = cfg["model"]["no_layers"] + 1
    (tmp_path / "p.json").write_text(json.dumps(cfg))
    with pytest.raises(ExportError, match="does not match the model of this pipeline config"):
        export(load_pipeline(str(tmp_path / "p.json")), str(tmp / "model"), str(tmp_path / "out"), "x")
    assert not (tmp_path / "out" / "model.tflite").exists()


def test_export_from_a_float_tflite_reproduces_it(trained, tmp_path):
    """--weights-from: the exported float file computes what the source float file computes."""
    from bfcnn.trainer.export import export
    tmp, card = trained
    cfg = load_pipeline(str(tmp / "pipeline.json"))
    again = export(cfg, None, str(tmp_path / "again"), "tiny", ("none",),
                   weights_from=str(tmp / "exported" / "model.tflite"))
    assert again["training_steps"] == card["training_steps"] == 300
    assert again["export_check"]["none"]["psnr_vs_clean"] == pytest.approx(card["export_check"]["none"]["psnr_vs_clean"], abs=1e-6)


def test_space_to_depth_model_exports_builtin_ops_matching_keras(tmp_path):
    """Level 0 on 2x2 unshuffled blocks: SPACE_TO_DEPTH / DEPTH_TO_SPACE are builtin ops, the
    float file matches Keras and the int8 one stays close (random weights, 10 steps)."""
    from bfcnn.trainer.export import export
    from bfcnn.trainer.train_loop import train
    path = tiny_config(tmp_path, steps=10, checkpoint_every=10)
    cfg = json.load(open(path))
    cfg["model"].update(levels=3, space_to_depth=2)
    json.dump(cfg, open(path, "w"))
    train(load_pipeline(path), str(tmp_path / "m"), progress=False)
    card = export(load_pipeline(path), str(tmp_path / "m"), str(tmp_path / "out"), "s2d", ("none", "int8"))
    assert card["export_check"]["none"]["max_abs_diff_vs_keras"] < 1e-4
    assert card["export_check"]["int8"]["psnr_vs_float"] > 30.0


def test_onnx_export_of_a_trained_model_runs_like_its_tflite(trained, tmp_path, datasets):
    """--onnx-only on an exported folder: model.onnx beside the float file, recorded in the
    card, and Denoiser(backend="onnxruntime") gives LiteRT's output within 1e-4 on a real image."""
    pytest.importorskip("onnxruntime")
    import shutil
    from bfcnn.export import main
    from bfcnn.runtime import Denoiser
    tmp, _ = trained
    folder = tmp_path / "exported"
    shutil.copytree(tmp / "exported", folder)
    assert main(["--onnx-only", str(folder)]) == 0
    card = json.loads((folder / "card.json").read_text())
    assert card["onnx"]["file"] == "model.onnx" and (folder / "model.onnx").stat().st_size == card["onnx"]["bytes"]
    assert card["onnx"]["max_abs_diff_vs_tflite"] < 1e-4 and card["onnx"]["converter"].startswith("tf2onnx")
    clean, noisy = noisy_pair(os.path.join(datasets, "Set12", "05.png"), 25.0, gray=True)
    frame = (noisy / 255.0).astype(np.float32)[:, :, None]
    a = Denoiser(str(folder), num_threads=2)(frame)
    b = Denoiser(str(folder), num_threads=2, backend="onnxruntime")(frame)
    assert np.abs(a - b).max() < 1e-4
    assert psnr(np.clip(b[:, :, 0] * 255, 0, 255), clean) > psnr(noisy, clean) + 1.0



def test_a_wrong_onnx_graph_is_converted_again(trained, tmp_path, monkeypatch):
    """tf2onnx is not deterministic and now and then leaves a wrong graph (an extra output axis):
    a conversion that fails the check is made again, up to ATTEMPTS times, then refused."""
    pytest.importorskip("onnxruntime")
    import shutil
    from bfcnn.trainer import onnx_export
    tmp, _ = trained
    folder = tmp_path / "exported"
    shutil.copytree(tmp / "exported", folder)
    made = []
    monkeypatch.setattr(onnx_export, "convert", lambda path: made.append(1) or b"onnx %d" % len(made))

    def first_graph_wrong(onnx_bytes, path, inputs):
        if onnx_bytes == b"onnx 1":
            raise onnx_export.OnnxExportError("ONNX output (1, 1, 8, 8, 1) but TFLite output (1, 8, 8, 1)")
        return 0.0
    monkeypatch.setattr(onnx_export, "max_difference", first_graph_wrong)
    path, entry = onnx_export.add_onnx(str(folder))
    assert len(made) == 2 and open(path, "rb").read() == b"onnx 2" and entry["bytes"] == 6
    monkeypatch.setattr(onnx_export, "max_difference", lambda *a: 1.0)     # never agrees: refused
    made.clear()
    (folder / "model.onnx").unlink()
    with pytest.raises(onnx_export.OnnxExportError, match="no conversion .* agreed"):
        onnx_export.add_onnx(str(folder))
    assert len(made) == onnx_export.ATTEMPTS and not (folder / "model.onnx").exists()

def test_to_onnx_needs_the_float_tflite_file(tmp_path, capsys):
    from bfcnn.export import main
    with pytest.raises(SystemExit):
        main(["--weights-from", "x", "--pipeline-config", "p.json", "--output-directory", str(tmp_path),
              "--to-onnx", "--to-tflite", "--quantization", "int8"])
    assert "keep 'none' in --quantization" in capsys.readouterr().err
    assert main(["--onnx-only", str(tmp_path / "nothing")]) == 1
    assert "ONNX files are made from the float" in capsys.readouterr().err
