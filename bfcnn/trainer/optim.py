"""Adam with exponential learning-rate decay (optional linear warm-up) and norm clipping."""
from __future__ import annotations

import keras
import tensorflow as tf

from bfcnn.config import OptimizerConfig


@keras.saving.register_keras_serializable(package="bfcnn")
class WarmupExponentialDecay(keras.optimizers.schedules.LearningRateSchedule):
    """lr(step) = lr0 * decay_rate ** (step / decay_steps), ramped linearly over warmup_steps."""

    def __init__(self, learning_rate: float, decay_rate: float, decay_steps: int, warmup_steps: int = 0):
        self.learning_rate = learning_rate
        self.decay_rate = decay_rate
        self.decay_steps = decay_steps
        self.warmup_steps = warmup_steps

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        lr = self.learning_rate * tf.pow(self.decay_rate, step / float(max(1, self.decay_steps)))
        if self.warmup_steps > 0:
            lr = lr * tf.minimum(1.0, (step + 1.0) / float(self.warmup_steps))
        return lr

    def get_config(self):
        return {"learning_rate": self.learning_rate, "decay_rate": self.decay_rate,
                "decay_steps": self.decay_steps, "warmup_steps": self.warmup_steps}


def make_optimizer(cfg: OptimizerConfig) -> keras.optimizers.Optimizer:
    schedule = WarmupExponentialDecay(cfg.learning_rate, cfg.decay_rate, cfg.decay_steps, cfg.warmup_steps)
    clip = cfg.gradient_clipping_by_norm if cfg.gradient_clipping_by_norm > 0 else None
    return keras.optimizers.Adam(learning_rate=schedule, global_clipnorm=clip)
