"""Corruptions applied inside the training step (TensorFlow, stateless and seeded).

clean: float32 [B, H, W, C] in [0, 1]. Each batch draws one of the enabled corruption types
(additive Gaussian, multiplicative Gaussian, subsampling); additive sigma is drawn per
image from `additional_noise` (choice), uniformly between its min and max (uniform), log-uniformly
(log_uniform) or half and half (mixed),
in 0-255 units. With clip_value / round_values the noisy image is clipped to [0, 1] and
rounded to the uint8 grid: what a camera really hands the runtime.
"""
from __future__ import annotations

import tensorflow as tf

from bfcnn.config import DatasetConfig
from bfcnn.runtime.noise_maps import WHITE


def _blur3(x: tf.Tensor) -> tf.Tensor:
    k = tf.constant([0.25, 0.5, 0.25])
    k2 = tf.tensordot(k, k, axes=0)[:, :, None, None]
    c = x.shape[-1]
    return tf.nn.depthwise_conv2d(x, tf.tile(k2, [1, 1, c, 1]), [1, 1, 1, 1], "SAME")


def _sigmas(d: DatasetConfig, batch: int, seed: tf.Tensor) -> tf.Tensor:
    """Per-image sigma, float32 [batch], in [0, 1] units (grey levels / 255). The uniform and
    log-uniform draws use `seed` as they always did, so older recipes train as before."""
    values = tf.constant(d.additional_noise, tf.float32) / 255.0
    lo, hi = tf.reduce_min(values), tf.reduce_max(values)

    def uniform(s):
        return tf.random.stateless_uniform([batch], s, lo, hi)

    def log_uniform(s):
        # as many images at sigma 1-5 as at 15-75: uniform sampling starves the low end
        log_lo = tf.math.log(tf.maximum(lo, 1.0 / 255.0))
        u = tf.random.stateless_uniform([batch], s, 0.0, 1.0)
        return tf.exp(log_lo + u * (tf.math.log(hi) - log_lo))

    if d.noise_sampling == "uniform":
        return uniform(seed)
    if d.noise_sampling == "log_uniform":
        return log_uniform(seed)
    if d.noise_sampling == "mixed":
        # each image flips a coin, so the low end is covered without starving the top
        seeds = tf.random.experimental.stateless_split(seed, 3)
        coin = tf.random.stateless_uniform([batch], seeds[2], 0.0, 1.0) < 0.5
        return tf.where(coin, uniform(seeds[0]), log_uniform(seeds[1]))
    idx = tf.random.stateless_uniform([batch], seed, 0, len(d.additional_noise), dtype=tf.int32)
    return tf.gather(values, idx)


def gray_some(clean: tf.Tensor, d: DatasetConfig, seed: tf.Tensor):
    """(clean, gray): with dataset.gray_fraction > 0 that fraction of the colour images become
    gray (BGR luma in every plane), gray a float32 [B, 1, 1, 1] mask (1 = gray) that
    corrupt() uses to give them one noise field for all planes: a gray camera frame reaching
    a colour model. Without it the colour models took identical-plane noise for texture
    (an earlier edge_color_realtime gained 0.2 dB on a gray frame at sigma 25, 9 dB on colour)."""
    if d.gray_fraction <= 0:
        return clean, None
    batch = tf.shape(clean)[0]
    pick = tf.random.stateless_uniform([batch], tf.random.experimental.stateless_fold_in(seed, 7), 0.0, 1.0)
    gray = tf.cast(pick < d.gray_fraction, tf.float32)[:, None, None, None]
    luma = tf.reduce_sum(clean * tf.constant([0.114, 0.587, 0.299], tf.float32), axis=-1, keepdims=True)
    return gray * luma + (1.0 - gray) * clean, gray


def _field(shape, seed: tf.Tensor, gray) -> tf.Tensor:
    """Unit normal noise [B, H, W, C]; images with gray = 1 get the same field in every plane."""
    field = tf.random.stateless_normal(shape, seed)
    return field if gray is None else gray * field[..., :1] + (1.0 - gray) * field


def corrupt(clean: tf.Tensor, d: DatasetConfig, seed: tf.Tensor, gray=None) -> tf.Tensor:
    """Noisy version of `clean` ([B,H,W,C] float32 in [0,1]); `seed` is an int32 [2] tensor;
    `gray`: the mask from gray_some (or None)."""
    shape = tf.shape(clean)
    batch = shape[0]
    seeds = tf.random.experimental.stateless_split(seed, 5)
    kinds = []
    if d.additional_noise:
        def additive():
            sigma = _sigmas(d, batch, seeds[1])[:, None, None, None]
            return clean + sigma * _field(shape, seeds[2], gray)
        kinds.append(additive)
    if d.multiplicative_noise:
        def multiplicative():
            values = tf.constant(d.multiplicative_noise, tf.float32)
            idx = tf.random.stateless_uniform([batch], seeds[1], 0, len(d.multiplicative_noise), tf.int32)
            std = tf.gather(values, idx)[:, None, None, None]
            field = _field(shape, seeds[2], gray)
            if d.random_blur:
                field = _blur3(field) * 2.0  # blurred field, std restored roughly
            return clean * (1.0 + std * field)
        kinds.append(multiplicative)
    if d.subsample_size > 1:
        def subsample():
            f = d.subsample_size
            small = tf.nn.avg_pool2d(clean, f, f, "SAME")
            return tf.image.resize(small, shape[1:3], method="nearest")
        kinds.append(subsample)
    if len(kinds) == 1:
        noisy = kinds[0]()
    else:
        which = tf.random.stateless_uniform([], seeds[3], 0, len(kinds), dtype=tf.int32)
        noisy = tf.switch_case(which, kinds)
    if d.clip_value:
        noisy = tf.clip_by_value(noisy, 0.0, 1.0)
    if d.round_values:
        noisy = tf.round(noisy * 255.0) / 255.0
    return noisy


def training_pair(clean_u8, noisy_u8, camera, d: DatasetConfig, seed: tf.Tensor):
    """(clean, noisy) float32 [B, H, W, C] scaled to [0, 1] by dataset.min_value / max_value, for
    one prefetched batch (bfcnn.trainer.data.dataset.Batch: clean and noisy uint8, camera float32
    [B]). Crops with camera = 1 keep the camera-noise pair the prefetch thread made; the others
    get gray_some and corrupt here, as they always did."""
    scale = 1.0 / (d.max_value - d.min_value)
    clean = (tf.cast(clean_u8, tf.float32) - d.min_value) * scale
    gclean, gray = gray_some(clean, d, seed)
    noisy = corrupt(gclean, d, seed, gray)
    if d.camera_noise.fraction <= 0:
        return gclean, noisy
    cam = tf.reshape(tf.cast(camera, tf.float32), [-1, 1, 1, 1]) > 0.5
    cam_noisy = (tf.cast(noisy_u8, tf.float32) - d.min_value) * scale
    return tf.where(cam, clean, gclean), tf.where(cam, cam_noisy, noisy)


def level_stds(noisy: tf.Tensor, clean: tf.Tensor, levels: int) -> tf.Tensor:
    """The noise std of each pyramid level and channel of each crop, float32 [B, levels, C], for a
    noise-conditioned model (model.noise_input): s_k = s_0 * WHITE[k] * c_k measured on the crop's
    residual noisy - clean as noise.from_pair measures a photo pair (s_0 per channel: the RMS; c_j:
    the RMS after j 2x2 area reductions over white noise's, j = 1, 2), so that training sees the
    maps the runtime builds from a profile (bfcnn/runtime/noise_maps.py)."""
    r = noisy - clean
    s0 = tf.sqrt(tf.reduce_mean(tf.square(r), axis=[1, 2]))                # [B, C]
    full = tf.reduce_mean(tf.square(r), axis=[1, 2, 3]) + 1e-20             # [B]
    corr = [tf.ones_like(full)]
    for j in (1, 2):
        reduced = tf.nn.avg_pool2d(r, 2 ** j, 2 ** j, "VALID")
        corr.append(tf.sqrt(tf.reduce_mean(tf.square(reduced), axis=[1, 2, 3]) * 4.0 ** j / full))
    factors = tf.stack([WHITE[k] * corr[min(k, 2)] for k in range(levels)], axis=1)   # [B, L]
    return tf.stop_gradient(factors[:, :, None] * s0[:, None, :])
