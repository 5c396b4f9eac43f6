"""The light runtime: numpy + OpenCV + LiteRT (never TensorFlow).

    from bfcnn.runtime import Denoiser
    den = Denoiser("edge_color_realtime", num_threads=2)
    clean = den(frame)          # HxW, HxWx1 or HxWx3 (BGR), uint8 or float32 in [0, 1]

    from bfcnn.runtime import AveragingDenoiser
    video = AveragingDenoiser()  # a stream: frames averaged where the scene holds still, then denoised
    for frame in frames:
        clean = video(frame)
"""
from bfcnn.runtime.averaging import AveragingDenoiser
from bfcnn.runtime.denoiser import Denoiser

__all__ = ["AveragingDenoiser", "Denoiser"]
