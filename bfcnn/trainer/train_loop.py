"""The training loop: seeded batches, checkpoints every N steps, resume, clean Ctrl-C.

Model directory layout:
    pipeline.json   resolved config (all defaults filled in)
    command.txt     the command line of every run/resume, appended
    checkpoints/    tf.train.CheckpointManager (model, optimizer, step), checkpoints_to_keep
    logs/           TensorBoard scalars (loss, mae, psnr, lr, images/s) and image grids
    train_log.jsonl one line per logged step (step, loss, psnr, seconds), for RESULTS.md
"""
from __future__ import annotations

import os
import sys
import time
from typing import NamedTuple, Optional

import numpy as np
import tensorflow as tf

from bfcnn.config import PipelineConfig
from bfcnn.trainer import cluster, losses, pruning
from bfcnn.trainer.checkpoints import build_checkpoint, restore_latest
from bfcnn.trainer.data.dataset import Prefetcher, load_images
from bfcnn.trainer.data.noise import level_stds, training_pair
from bfcnn.trainer.run_log import (TrainResult, StopFlag, close_run, diverged_at,
                                   log_step, progress_bar, truncate_log, write_run_files)
from bfcnn.trainer import tflite_weights
from bfcnn.trainer.layers import NoiseMaps, ScaleOnlyBatchNorm
from bfcnn.trainer.pyramid import PyrDown, gaussian_pyramid
from bfcnn.trainer.visualize import image_grid, random_batch_images


def total_steps(cfg: PipelineConfig) -> int:
    t = cfg.train
    return t.total_steps if t.total_steps > 0 else t.epochs * t.steps_per_epoch


def train(cfg: PipelineConfig, model_dir: str, progress: bool = True,
          max_steps: Optional[int] = None) -> TrainResult:
    """Train (or resume) the model of `cfg` in `model_dir`. `max_steps` caps this call only.
    Under train.distribute = "multi_worker_mirrored" only the chief writes there (cluster.py)."""
    t = cfg.train
    tf.keras.utils.set_random_seed(t.seed) if hasattr(tf.keras.utils, "set_random_seed") else None
    strategy = cluster.strategy_for(t.distribute)
    chief, own_dir = cluster.write_dir(strategy, model_dir)
    try:
        return _train(cfg, model_dir, own_dir, strategy, progress and chief, max_steps)
    finally:
        cluster.release(chief, own_dir)


def _train(cfg: PipelineConfig, model_dir: str, own_dir: str, strategy, progress: bool,
           max_steps: Optional[int]) -> TrainResult:
    """train() in the folder this process writes to (`own_dir`), resuming from the run's
    checkpoints in `model_dir`. Stages: run files -> model (resumed, or from initial weights)
    -> step function -> the loop."""
    write_run_files(own_dir, cfg)
    state = _prepare(cfg, model_dir, own_dir, strategy)
    end = total_steps(cfg)
    if max_steps is not None:
        end = min(end, state.start + max_steps)
    run_step = _step_function(cfg, state.built, state.optimizer, strategy)
    return _loop(cfg, own_dir, state, run_step, end, progress)


class _State(NamedTuple):
    """The model and what checkpoints it, at the step training goes on from."""
    built: object
    optimizer: object
    step_var: tf.Variable
    manager: tf.train.CheckpointManager
    start: int
    saved: int          # the step of the last checkpoint on disk, -1 when none


def _prepare(cfg: PipelineConfig, model_dir: str, own_dir: str, strategy) -> _State:
    """The model, optimizer and checkpoint manager: resumed from `model_dir`'s latest
    checkpoint, else started from train.initial_weights, else fresh."""
    t = cfg.train
    with strategy.scope():
        built, optimizer, step_var, ckpt, manager = build_checkpoint(cfg, own_dir)
    latest = tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints"))
    if latest:
        restore_latest(ckpt, manager, latest)
    elif t.initial_weights:
        _load_initial_weights(cfg, built)
    if t.initial_weights and not t.initial_weights_levels:  # fine-tuning: batch norms keep their statistics
        for layer in tflite_weights.iter_layers(built.core):
            if isinstance(layer, ScaleOnlyBatchNorm):
                layer.frozen_statistics = True
    start = int(step_var.numpy())
    return _State(built, optimizer, step_var, manager, start, start if latest else -1)


def _step_function(cfg: PipelineConfig, built, optimizer, strategy):
    """run_step(batch, seed, iterations) -> (loss, psnr out, psnr noisy): one optimizer step;
    under a tf.distribute strategy the batch is split across replicas, the optimizer
    all-reduces the gradients, and the values are replica means."""
    t, d = cfg.train, cfg.dataset
    model = built.full
    supervise_levels = cfg.loss.level_multiplier > 0
    target_down = PyrDown(name="level_target_down")
    target_down.build((None, None, None, cfg.model.channels))  # eager constant, not one per trace
    penalize_range = cfg.loss.range_multiplier > 0
    n_levels = cfg.model.levels

    def forward(x, stds=None):
        """(final output, coarse levels' outputs d_1.. or [] when they are not supervised,
        inner tensors for loss.range_multiplier or []). One model for every case: `activations`
        computes exactly what `full` does and only hands out more of its tensors. `stds`: a
        noise-conditioned model's per-level noise std [B, L, C] (data.noise.level_stds)."""
        outs = built.activations(x if stds is None else [x, stds], training=True)
        coarse = list(outs[1:n_levels]) if supervise_levels else []
        return outs[0], coarse, list(outs[n_levels:]) if penalize_range else []

    @tf.function(jit_compile=t.jit_compile, reduce_retracing=True)
    def train_step(clean_u8, noisy_u8, camera, seed, iterations):
        clean, noisy = training_pair(clean_u8, noisy_u8, camera, d, seed)
        targets = gaussian_pyramid(clean, cfg.model.levels, target_down)[1:] if supervise_levels else []
        stds = level_stds(noisy, clean, n_levels) if cfg.model.noise_input else None
        with tf.GradientTape() as tape:
            out, coarse, inner = forward(noisy, stds)
            # `iterations` is a Python int (one trace per value in iterations_choice): a tf.range
            # loop here has no static trip count, which XLA (train.jit_compile) cannot compile
            for _ in range(iterations - 1):
                out, coarse, inner = forward(out)
            terms = losses.denoise_loss(cfg.loss, out, clean, coarse, targets, inner)
            reg = tf.add_n(model.losses) if model.losses else tf.constant(0.0)
            total = terms["loss"] + reg
        grads = tape.gradient(total, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return total, losses.psnr(out, clean), losses.psnr(noisy, clean)

    if t.distribute == "none":
        return train_step
    replicas = strategy.num_replicas_in_sync

    def run_step(clean_u8, noisy_u8, camera, seed, iterations):
        values = []
        for part in (clean_u8, noisy_u8, camera):
            parts = np.array_split(part, replicas)
            values.append(strategy.experimental_distribute_values_from_function(
                lambda ctx, parts=parts: tf.constant(parts[ctx.replica_id_in_sync_group])))
        per = strategy.run(train_step, args=(*values, seed, iterations))
        return tuple(strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for v in per)
    return run_step


def _loop(cfg: PipelineConfig, own_dir: str, state: _State, run_step, end: int, progress: bool) -> TrainResult:
    """Steps from state.start to `end`: seeded batches from the prefetch thread, a log line
    every 20 steps, images every visualization_every, a checkpoint every checkpoint_every;
    Ctrl-C / SIGTERM stop after the current step, and the run is closed (checkpoint saved,
    threads joined) whatever happens."""
    t, d = cfg.train, cfg.dataset
    model, manager, step_var = state.built.full, state.manager, state.step_var
    writer = tf.summary.create_file_writer(os.path.join(own_dir, "logs"))
    log_path = os.path.join(own_dir, "train_log.jsonl")
    truncate_log(log_path, state.start)
    prefetch = Prefetcher(load_images(cfg), d, t.seed, state.start)
    bar = progress_bar(state.start, end) if progress else None
    rng = np.random.default_rng([t.seed, state.start, 7])
    began, last_loss, last_psnr, interrupted = time.time(), float("nan"), float("nan"), False
    window_t, window_n = time.time(), 0
    step, saved = state.start, state.saved
    diverged = False
    try:
        with StopFlag() as flag:
            batches = iter(prefetch)
            while step < end:
                if flag.stop:
                    interrupted = True
                    break
                batch = next(batches)
                iters = int(rng.choice(t.iterations_choice))
                seed = tf.constant([t.seed, step], tf.int32)
                loss, p_out, p_in = run_step(*batch, seed, iters)
                if not np.isfinite(float(loss)):
                    diverged = True
                    raise diverged_at(float(loss), step + 1, manager, t)
                step += 1
                step_var.assign(step)
                window_n += 1
                if pruning.should_prune(t.prune, step, step // t.steps_per_epoch):
                    pruning.apply(model, t.prune)
                if step % 20 == 0 or step == end:
                    last_loss, last_psnr = float(loss), float(p_out)
                    rate = window_n * d.batch_size / max(time.time() - window_t, 1e-9)
                    window_t, window_n = time.time(), 0
                    log_step(writer, log_path, step, {"loss": last_loss, "psnr": last_psnr,
                                                      "psnr_noisy": float(p_in), "patches_per_s": rate},
                             learning_rate=float(state.optimizer.learning_rate))
                    if bar is not None:
                        # refresh=False: set_postfix otherwise redraws at once, every 20 steps,
                        # whatever mininterval says (a log file then grows by a line a second)
                        bar.set_postfix(loss=f"{last_loss:.3f}", psnr=f"{last_psnr:.2f}",
                                        noisy=f"{float(p_in):.2f}", img_s=f"{rate:.0f}",
                                        refresh=False)
                if t.visualization_every > 0 and step % t.visualization_every == 0:
                    _visualize(cfg, model, writer, batch, seed, step)
                if step % t.checkpoint_every == 0:
                    manager.save(checkpoint_number=step)
                    saved = step
                if bar is not None:
                    bar.update(1)
    finally:
        close_run(prefetch, bar, manager, step_var, diverged, writer, saved)
    return TrainResult(steps=step, seconds=time.time() - began, last_loss=last_loss,
                       last_psnr=last_psnr, interrupted=interrupted)


def _visualize(cfg: PipelineConfig, model, writer, batch, seed, step: int) -> None:
    """TensorBoard images: noisy | denoised | clean for the first crops of this batch, and a
    random batch."""
    n = cfg.train.visualization_number
    clean, noisy = (x.numpy() for x in training_pair(
        batch.clean[:n], batch.noisy[:n], batch.camera[:n], cfg.dataset, seed))
    with writer.as_default(step=step):
        inputs = [noisy, level_stds(noisy, clean, cfg.model.levels)] if cfg.model.noise_input else noisy
        tf.summary.image("noisy_denoised_clean", image_grid(noisy, model(inputs).numpy(), clean), step=step)
        tf.summary.image("random_batch", random_batch_images(model, cfg.train), step=step)


def _load_initial_weights(cfg: PipelineConfig, built) -> None:
    """Fresh run with train.initial_weights: load a float TFLite's weights (and measure the
    batch-norm moments on 8 noisy training batches so training starts from the same function)."""
    path = tflite_weights.locate(cfg.train.initial_weights, cfg.base_dir, cfg.train.initial_weights_sha256)
    levels = cfg.train.initial_weights_levels or None
    widen_rng = np.random.default_rng(cfg.train.seed) if cfg.train.initial_weights_widen else None
    n = tflite_weights.load_into(built.core, path, levels, widen_rng)
    bns = _recalibrate_batchnorm(cfg, built)
    print(f"initial weights: {n} layers from {path}" + (" (widened)" if widen_rng is not None else "")
          + (f" (levels {levels} only; the others start fresh)" if levels else "")
          + (f" ({bns} batch norms recalibrated)" if bns else ""), file=sys.stderr)


def _recalibrate_batchnorm(cfg: PipelineConfig, built) -> int:
    """Measure the batch-norm moments on 8 noisy training batches (no dataset pass when the
    model has no batch norm). Returns the number of layers recalibrated."""
    if not any(isinstance(layer, ScaleOnlyBatchNorm) for layer in tflite_weights.iter_layers(built.core)):
        return 0
    d = cfg.dataset
    prefetch = Prefetcher(load_images(cfg), d, cfg.train.seed + 1, 0)
    down = PyrDown(name="recalibration_down")
    try:
        batches = iter(prefetch)
        pyramids = []
        for i in range(8):
            clean, noisy = training_pair(*next(batches), d, tf.constant([cfg.train.seed + 1, i], tf.int32))
            levels = gaussian_pyramid(noisy, cfg.model.levels, down)
            if cfg.model.noise_input:
                levels = levels + NoiseMaps()(levels + [level_stds(noisy, clean, cfg.model.levels)])
            pyramids.append([np.asarray(x) for x in levels])
    finally:
        prefetch.close()
    return tflite_weights.recalibrate_batchnorm(built.core, pyramids)
