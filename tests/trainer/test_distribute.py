"""train.distribute: "mirrored" (tf.distribute.MirroredStrategy) trains on this CPU and its
checkpoints export like any other run."""
import json

import numpy as np

from bfcnn.config import load_pipeline
from tests.trainer.tiny import tiny_config


def test_mirrored_strategy_trains_and_exports(tmp_path, datasets):
    path = tiny_config(tmp_path, steps=40, checkpoint_every=20)
    cfg = json.load(open(path))
    cfg["train"]["distribute"] = "mirrored"
    json.dump(cfg, open(path, "w"))
    from bfcnn.trainer.export import export
    from bfcnn.trainer.train_loop import train
    result = train(load_pipeline(path), str(tmp_path / "run"), progress=False)
    assert result.steps == 40
    log = [json.loads(l) for l in open(tmp_path / "run" / "train_log.jsonl")]
    assert all(np.isfinite(e["loss"]) for e in log)
    card = export(load_pipeline(path), str(tmp_path / "run"), str(tmp_path / "exp"), "mirrored", ("none",))
    assert card["training_steps"] == 40
    assert card["export_check"]["none"]["psnr_vs_clean"] > card["export_check"]["keras"]["psnr_noisy"]
