"""A tiny real pipeline config for tests: trains in seconds on Train400 (gray)."""
import json
import os

from tests.conftest import DATASETS


def tiny_config(tmp_path, steps=300, checkpoint_every=100, **dataset) -> str:
    cfg = {
        "model": {"type": "resnet", "levels": 2, "filters": 8, "no_layers": 2, "kernel_regularizer": "none",
                  "batchnorm": False,
                  "input_shape": ["?", "?", 1]},
        "train": {"total_steps": steps, "checkpoint_every": checkpoint_every, "visualization_every": 150,
                  "visualization_number": 2, "random_batch_size": [32, 32, 1], "random_batch_iterations": 2,
                  "optimizer": {"learning_rate": 0.003, "decay_steps": 1000, "decay_rate": 0.5}},
        "loss": {"mae_multiplier": 0.0, "mse_multiplier": 1.0},
        "dataset": {"directory": os.path.join(DATASETS, "Train400"), "batch_size": 16,
                    "input_shape": [48, 48, 1], "additional_noise": [0, 50], "noise_sampling": "uniform",
                    **dataset},
    }
    path = os.path.join(str(tmp_path), "pipeline.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def random_pyramids(levels, n=3, size=32):
    """n calibration-like inputs for a core model: pyramids of uniform random gray images,
    each a list of [1, h_k, w_k, 1] float32 arrays in [0, 1] (seeded)."""
    import numpy as np
    from bfcnn.trainer.tflite_convert import numpy_pyramid
    rng = np.random.default_rng(0)
    return [numpy_pyramid(rng.random((size, size, 1), dtype=np.float32), levels) for _ in range(n)]
