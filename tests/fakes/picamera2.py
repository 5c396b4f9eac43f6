"""A stand-in for the picamera2 module with the documented API surface the adapter uses:
Picamera2(camera_num), create_video_configuration(main=, lores=, controls=), configure,
start, capture_array(stream), capture_metadata(), stop, close. Formats as Picamera2 documents them:
"RGB888" -> (h, w, 3) with pixels B, G, R; "YUV420" -> (h * 3 // 2, w) planar I420."""
import numpy as np

calls = []


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
            yuv = np.full((h * 3 // 2, w), 128, np.uint8)
            yuv[:h] = 90 + (np.arange(w) % 50)[None, :]            # the luma plane
            return yuv
        raise ValueError(stream["format"])

    def capture_metadata(self):
        if not self.started:
            raise RuntimeError("camera not started")
        return {"AnalogueGain": 4.0, "DigitalGain": 1.0, "ExposureTime": 16000, "Lux": 120.0}

    def stop(self):
        self.started = False

    def close(self):
        calls.append(("close", self.camera_num))
