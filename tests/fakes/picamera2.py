"""A stand-in for the picamera2 module with the documented API surface the adapter uses:
Picamera2(camera_num), create_video_configuration(main=, lores=, controls=), configure,
start, capture_array(stream), capture_metadata(), stop, close. Formats as Picamera2 documents them:
"RGB888" -> (h, w, 3) with pixels B, G, R; "YUV420" -> (h * 3 // 2, stride) planar I420 with
rows padded to STRIDE_PAD more bytes than the width (libcamera aligns rows), U and V distinct
(U a ramp along x, V constant), so a wrong layout, a lost stride or a U/V swap shows."""
import numpy as np

calls = []
STRIDE_PAD = 32


def planes(h, w):
    """(Y [h, w], U [h/2, w/2], V [h/2, w/2]) of the fake YUV420 frame."""
    y = np.broadcast_to(90 + (np.arange(w) % 50)[None, :], (h, w)).astype(np.uint8)
    u = np.broadcast_to(100 + (np.arange(w // 2) % 40)[None, :], (h // 2, w // 2)).astype(np.uint8)
    v = np.full((h // 2, w // 2), 170, np.uint8)
    return y, u, v


def yuv420(h, w):
    """The planes laid out as Picamera2 returns them: (h * 3 / 2, stride), padding bytes 255."""
    stride = w + STRIDE_PAD
    y, u, v = planes(h, w)
    flat = np.full(h * 3 // 2 * stride, 255, np.uint8)
    flat[: h * stride].reshape(h, stride)[:, :w] = y
    c = (h // 2) * (stride // 2)
    flat[h * stride: h * stride + c].reshape(h // 2, stride // 2)[:, : w // 2] = u
    flat[h * stride + c: h * stride + 2 * c].reshape(h // 2, stride // 2)[:, : w // 2] = v
    return flat.reshape(h * 3 // 2, stride)


class Picamera2:
    def __init__(self, camera_num=0):
        self.camera_num = camera_num
        self.config = None
        self.started = False
        self.frame = 0
        calls.append(("init", camera_num))

    def create_video_configuration(self, main=None, lores=None, controls=None):
        main = main or {"size": (1280, 720), "format": "XBGR8888"}
        return {"main": main, "lores": lores, "controls": controls or {}}

    def configure(self, config):
        self.config = config
        calls.append(("configure", config))

    def start(self):
        self.started = True

    def capture_array(self, name="main"):
        if not self.started:
            raise RuntimeError("camera not started")
        stream = self.config[name]
        if stream is None:
            raise RuntimeError(f"stream {name} not configured")
        w, h = stream["size"]
        self.frame += 1
        if stream["format"] == "RGB888":
            img = np.zeros((h, w, 3), np.uint8)
            img[..., 0], img[..., 1], img[..., 2] = 200, 100, 50   # B, G, R
            return img
        if stream["format"] == "YUV420":
            return yuv420(h, w)
        raise ValueError(stream["format"])

    def capture_metadata(self):
        if not self.started:
            raise RuntimeError("camera not started")
        return {"AnalogueGain": 4.0, "DigitalGain": 1.0, "ExposureTime": 16000, "Lux": 120.0}

    def stop(self):
        self.started = False

    def close(self):
        calls.append(("close", self.camera_num))
