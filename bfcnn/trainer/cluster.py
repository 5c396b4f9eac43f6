"""Training on more than one device or machine: the tf.distribute strategy of train.distribute,
and where each worker writes.

With "multi_worker_mirrored" every worker runs `python -m bfcnn.train` with the same config and
its own TF_CONFIG (cluster addresses and its index; docs/training.md shows two hosts). Each
worker takes its share of every batch (the batches are a function of the step, so all workers
draw the same one) and the gradients are all-reduced. Only the chief (worker 0, or the task of
type "chief") writes into --model-directory: pipeline.json, command.txt, checkpoints,
TensorBoard logs, train_log.jsonl. The others still save checkpoints (saving is a collective
operation every worker must join) but into a temporary folder of their own, removed when they
finish; they restore from the chief's checkpoints, so a run whose worker was killed resumes
from the chief's last checkpoint when all workers are started again.
"""
from __future__ import annotations

import shutil
import tempfile
from typing import Tuple

import tensorflow as tf


def strategy_for(name: str):
    """The tf.distribute strategy of train.distribute ("none", "mirrored", "multi_worker_mirrored")."""
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker_mirrored":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()  # default: one device


def is_chief(strategy) -> bool:
    """Whether this process writes the run's files: always, unless it is a multi-worker task
    other than the chief (type "chief", or "worker" 0 when the cluster has no chief)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def write_dir(strategy, model_dir: str) -> Tuple[bool, str]:
    """(chief?, the folder this process writes to): model_dir for the chief, a fresh temporary
    folder for every other worker (remove it with `release` when done)."""
    if is_chief(strategy):
        return True, model_dir
    resolver = strategy.cluster_resolver
    return False, tempfile.mkdtemp(prefix=f"bfcnn-{resolver.task_type}{resolver.task_id}-")


def release(chief: bool, folder: str) -> None:
    """Remove a non-chief worker's temporary folder."""
    if not chief:
        shutil.rmtree(folder, ignore_errors=True)
