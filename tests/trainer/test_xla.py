"""train.jit_compile (XLA) trains: it broke once without a test (a tf.range loop in the step has
no static trip count, which XLA cannot compile) and every config with it failed."""
import json

import numpy as np

from bfcnn.config import load_pipeline
from tests.trainer.tiny import tiny_config


def test_xla_step_trains(tmp_path, datasets):
    from bfcnn.trainer.train_loop import train
    path = tiny_config(tmp_path, steps=6, checkpoint_every=6)
    cfg = json.load(open(path))
    cfg["train"].update(jit_compile=True, iterations_choice=[1, 2], visualization_every=0)
    cfg["loss"]["level_multiplier"] = 1.0            # the supervised-levels path too
    with open(path, "w") as f:
        json.dump(cfg, f)
    run = tmp_path / "run"
    train(load_pipeline(path), str(run), progress=False)
    log = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    assert log and all(np.isfinite(entry["loss"]) for entry in log)
    assert log[-1]["step"] == 6
