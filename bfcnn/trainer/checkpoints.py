"""Training checkpoints: model weights keyed by layer name, optimizer and step, and a restore
that refuses a checkpoint which does not hold the config's model."""
from __future__ import annotations

import os

import tensorflow as tf

from bfcnn.config import PipelineConfig
from bfcnn.trainer import tflite_weights
from bfcnn.trainer.models import multiscale
from bfcnn.trainer.optim import make_optimizer


class LayerWeights(tf.Module):
    """The model's variables keyed by layer name. Keras keys a functional model's checkpoint
    by operation index, weightless ops (add, subtract) included, so any edit of the graph's
    plumbing silently re-mapped every weight (seen: restoring a conv kernel into another
    layer after the multiscale correction stopped using a subtraction). By name, a
    checkpoint survives such edits and fails loudly only when a layer really changes."""

    def __init__(self, model):
        super().__init__(name="layer_weights")
        self.by_layer = {layer.name: list(layer.weights)
                         for layer in tflite_weights.iter_layers(model) if layer.weights}


class CheckpointMismatch(RuntimeError):
    """A checkpoint does not hold this config's model; the message says what to do."""


def restore_latest(ckpt, manager, path: str = "") -> None:
    """Restore the newest checkpoint of `manager` (or the one at `path`) and check that every
    model variable was in it. A silent partial restore leaves random weights (seen: an export
    at 11 dB from a checkpoint written by another graph version)."""
    path = path or manager.latest_checkpoint
    status = ckpt.restore(path)
    try:
        status.assert_existing_objects_matched()
    except AssertionError as exc:
        raise CheckpointMismatch(
            f"checkpoint {path} does not match the model of this pipeline "
            f"config (different architecture, or written by an older bfcnn that keyed weights by "
            f"graph position): {str(exc)[:300]}. Use the config the run was trained with, or "
            f"export its float .tflite with that bfcnn version and continue with "
            f"train.initial_weights / export --weights-from") from None
    status.expect_partial()  # optimizer slots and the like may be created later


def build_checkpoint(cfg: PipelineConfig, model_dir: str):
    """(built model, optimizer, step variable, checkpoint, manager) for `model_dir`."""
    built = multiscale.build(cfg.model, cfg.loss.regularization)
    optimizer = make_optimizer(cfg.train.optimizer)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    ckpt = tf.train.Checkpoint(weights=LayerWeights(built.full), optimizer=optimizer, step=step)
    manager = tf.train.CheckpointManager(ckpt, os.path.join(model_dir, "checkpoints"),
                                         max_to_keep=cfg.train.checkpoints_to_keep)
    return built, optimizer, step, ckpt, manager


def ckpt_step(manager) -> int:
    """Step number of the newest checkpoint, -1 when there is none."""
    path = manager.latest_checkpoint
    return int(path.rsplit("-", 1)[-1]) if path else -1
