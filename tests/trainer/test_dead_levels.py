"""A top pyramid level whose ReLUs all died outputs 0; int8 would give it a zero range and the
TFLite interpreter aborts the process. Export removes such a level (same outputs, one level
fewer) and refuses a dead level it cannot remove instead of letting the interpreter abort."""
import numpy as np
import pytest

from bfcnn.config import parse_pipeline
from tests.trainer.tiny import random_pyramids


def _model(levels=3, batchnorm=True):
    from bfcnn.trainer.models import multiscale
    cfg = parse_pipeline({"model": {"levels": levels, "filters": 8, "no_layers": 2, "batchnorm": batchnorm,
                                    "input_shape": ["?", "?", 1]}})
    return cfg, multiscale.build(cfg.model)


def _kill(built, level):
    """Make level `level`'s stream <= 0 for every image: stem weights <= 0, block convs <= 0."""
    for layer in built.core.layers:
        if layer.name.startswith(f"level{level}_") and layer.name.endswith(("_stem", "_conv")):
            w = layer.get_weights()
            layer.set_weights([-np.abs(w[0])] + w[1:])


def test_dead_top_level_is_removed_with_the_same_outputs():
    from bfcnn.trainer.dead_levels import prune_dead_levels
    cfg, built = _model()
    _kill(built, 2)
    pyrs = random_pyramids(3, n=4)
    pruned, model_cfg, record = prune_dead_levels(built, cfg.model, pyrs)
    assert model_cfg.levels == 2 and record["levels"] == [3, 2]
    assert "level2_stem" not in [l.name for l in pruned.core.layers]
    assert "level1_stem_c" not in [l.name for l in pruned.core.layers]   # its input was always 0
    for p in pyrs:
        np.testing.assert_allclose(np.asarray(pruned.core(p[:2])), np.asarray(built.core(p)), atol=1e-6)


def test_a_pruned_file_loads_back_into_the_full_recipe_as_the_same_function(tmp_path):
    """train.initial_weights / export --weights-from with a file whose dead top level was
    removed: the full recipe gets the file's weights and a zeroed top level (edge_gray_realtime
    an earlier version was fine-tuned that way and its top level came back to life)."""
    from bfcnn.trainer import tflite_weights
    from bfcnn.trainer.dead_levels import prune_dead_levels
    from bfcnn.trainer.tflite_convert import convert
    cfg, built = _model(batchnorm=False)      # as the edge models
    _kill(built, 2)
    pyrs = random_pyramids(3, n=4)
    pruned, _, _ = prune_dead_levels(built, cfg.model, pyrs)
    path = tmp_path / "pruned.tflite"
    path.write_bytes(convert(pruned.core, 2, "none", []))
    _, fresh = _model(batchnorm=False)
    tflite_weights.load_into(fresh.core, str(path))
    assert not np.any(fresh.core.get_layer("level2_out").get_weights()[0])
    for p in pyrs:
        np.testing.assert_allclose(np.asarray(fresh.core(p)), np.asarray(built.core(p)), atol=1e-5)


def test_live_model_is_left_alone():
    from bfcnn.trainer.dead_levels import prune_dead_levels
    cfg, built = _model()
    pruned, model_cfg, record = prune_dead_levels(built, cfg.model, random_pyramids(3, n=4))
    assert pruned is built and model_cfg.levels == 3 and record == {}


def test_int8_export_refuses_a_dead_level_instead_of_aborting():
    """A dead *middle* level cannot be removed; int8 calibration would give it a zero range."""
    from bfcnn.trainer.int8 import ExportError, refuse_dead_levels
    cfg, built = _model()
    # level 1's head reads nothing: its output conv is zero
    out = built.core.get_layer("level1_out")
    out.set_weights([np.zeros_like(w) for w in out.get_weights()])
    with pytest.raises(ExportError, match=r"level\(s\) \[1\] output exactly 0"):
        refuse_dead_levels(built, 3, random_pyramids(3, n=4))
