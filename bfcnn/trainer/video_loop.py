"""Training loop of temporal models (model.temporal): sequences unrolled through the recurrence.

Each step takes a batch of `video.frames`-frame sequences (bfcnn/trainer/data/sequences.py) and
runs the model frame by frame as the runtime does: frame 0 with a past of 0 (nothing known
yet), every later frame with the previous *output* aligned by the sequence's global shift
(align_batch, the twin of bfcnn.runtime.motion.align). The loss is the mean over frames of the
configured denoising loss; gradients flow back through the recurrence. The run directory,
checkpoints, logs, resume and Ctrl-C behave as for still models (train_loop.py), and
train_log.jsonl adds psnr_first: the first frame's PSNR, i.e. what the model does without a past.
"""
from __future__ import annotations

import os
import time
from typing import Optional

import numpy as np
import tensorflow as tf

from bfcnn.config import PipelineConfig
from bfcnn.trainer import losses, tflite_weights
from bfcnn.trainer.checkpoints import build_checkpoint, restore_latest
from bfcnn.trainer.data.dataset import Prefetcher, load_images
from bfcnn.trainer.data.sequences import sample_sequences
from bfcnn.trainer.layers import ScaleOnlyBatchNorm
from bfcnn.trainer.run_log import (TrainResult, StopFlag, close_run, diverged_at, log_step, progress_bar,
                                   truncate_log, write_run_files)
from bfcnn.trainer.train_loop import _load_initial_weights, total_steps


def align_batch(prev: tf.Tensor, shifts: tf.Tensor) -> tf.Tensor:
    """prev [B, H, W, C] shifted by shifts [B, 2] (dy, dx): out[b, y, x] = prev[b, y + dy, x + dx]
    where that exists, else 0 (bfcnn.runtime.motion.align)."""
    h, w = tf.shape(prev)[1], tf.shape(prev)[2]
    rows = tf.range(h)[None, :] + shifts[:, :1]
    cols = tf.range(w)[None, :] + shifts[:, 1:]
    out = tf.gather(prev, tf.clip_by_value(rows, 0, h - 1), axis=1, batch_dims=1)
    out = tf.gather(out, tf.clip_by_value(cols, 0, w - 1), axis=2, batch_dims=1)
    valid = (((rows >= 0) & (rows < h))[:, :, None, None]) & (((cols >= 0) & (cols < w))[:, None, :, None])
    return tf.where(valid, out, tf.zeros_like(out))


def train(cfg: PipelineConfig, model_dir: str, progress: bool = True,
          max_steps: Optional[int] = None) -> TrainResult:
    """Train (or resume) the temporal model of `cfg` in `model_dir`; see the module docstring."""
    write_run_files(model_dir, cfg)
    t, d, frames = cfg.train, cfg.dataset, cfg.video.frames
    tf.keras.utils.set_random_seed(t.seed)
    built, optimizer, step_var, ckpt, manager = build_checkpoint(cfg, model_dir)
    if manager.latest_checkpoint:
        restore_latest(ckpt, manager)
    elif t.initial_weights:
        _load_initial_weights(cfg, built)
    if cfg.video.freeze_still:   # the still model's batch norms keep their statistics too
        for layer in tflite_weights.iter_layers(built.core):
            if isinstance(layer, ScaleOnlyBatchNorm):
                layer.frozen_statistics = True
    start, end = int(step_var.numpy()), total_steps(cfg)
    saved = start if manager.latest_checkpoint else -1
    if max_steps is not None:
        end = min(end, start + max_steps)
    model = built.full
    variables = [v for v in model.trainable_variables if "_temporal" in v.path] if cfg.video.freeze_still \
        else model.trainable_variables

    @tf.function(reduce_retracing=True)
    def train_step(clean, noisy, shifts):
        with tf.GradientTape() as tape:
            total, out, first = 0.0, None, None
            for k in range(frames):
                y = noisy[:, k]
                past = tf.zeros_like(y) if out is None else align_batch(out, shifts[:, k])
                out = model([y, past], training=True)
                total += losses.denoise_loss(cfg.loss, out, clean[:, k])["loss"]
                first = out if first is None else first
            total = total / frames
            reg = tf.add_n(model.losses) if model.losses else tf.constant(0.0)
            loss = total + reg
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return (loss, losses.psnr(out, clean[:, -1]), losses.psnr(noisy[:, -1], clean[:, -1]),
                losses.psnr(first, clean[:, 0]))

    log_path = os.path.join(model_dir, "train_log.jsonl")
    truncate_log(log_path, start)
    writer = tf.summary.create_file_writer(os.path.join(model_dir, "logs"))
    prefetch = Prefetcher(load_images(cfg), d, t.seed, start,
                          sample=lambda imgs, seed, step: sample_sequences(imgs, cfg, seed, step))
    bar = progress_bar(start, end) if progress else None
    began, last_loss, last_psnr, interrupted, diverged = time.time(), float("nan"), float("nan"), False, False
    window_t, window_n, step = time.time(), 0, start
    try:
        with StopFlag() as flag:
            batches = iter(prefetch)
            while step < end:
                if flag.stop:
                    interrupted = True
                    break
                batch = next(batches)
                loss, p_out, p_in, p_first = train_step(batch.clean, batch.noisy, batch.shifts)
                if not np.isfinite(float(loss)):
                    diverged = True
                    raise diverged_at(float(loss), step + 1, manager, t)
                step += 1
                step_var.assign(step)
                window_n += 1
                if step % 20 == 0 or step == end:
                    last_loss, last_psnr = float(loss), float(p_out)
                    rate = window_n * d.batch_size * frames / max(time.time() - window_t, 1e-9)
                    window_t, window_n = time.time(), 0
                    log_step(writer, log_path, step, {"loss": last_loss, "psnr": last_psnr,
                                                      "psnr_noisy": float(p_in), "psnr_first": float(p_first),
                                                      "patches_per_s": rate})
                    if bar is not None:
                        bar.set_postfix(loss=f"{last_loss:.3f}", psnr=f"{last_psnr:.2f}",
                                        first=f"{float(p_first):.2f}", refresh=False)
                if step % t.checkpoint_every == 0:
                    manager.save(checkpoint_number=step)
                    saved = step
                if bar is not None:
                    bar.update(1)
    finally:
        close_run(prefetch, bar, manager, step_var, diverged, writer, saved)
    return TrainResult(steps=step, seconds=time.time() - began, last_loss=last_loss,
                       last_psnr=last_psnr, interrupted=interrupted)
