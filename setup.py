"""One distribution, `bfcnn`: the light runtime by default, the trainer with the [train] extra.

The C++ pyramid op (cpp_ops/) is built here through pybind11; no -march flags, so the
wheel stays portable (x86-64, aarch64). Without a C++ compiler the install still succeeds,
with one warning, and the runtime uses its numpy pyramid (slower; bfcnn.runtime.pyramid.BACKEND
says which); BFCNN_REQUIRE_CPP=1 (CI) makes a failed build fail the install.
"""
import os
import sys

from pybind11.setup_helpers import Pybind11Extension, build_ext
from setuptools import find_packages, setup


class OptionalBuildExt(build_ext):
    """build_ext that warns instead of failing when the C++ op cannot be compiled."""

    def run(self):
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - setuptools raises several types for a missing compiler
            self._skip(exc)

    def build_extension(self, extension):
        try:
            super().build_extension(extension)
        except Exception as exc:  # noqa: BLE001 - as above
            self._skip(exc)

    @staticmethod
    def _skip(exc):
        if os.environ.get("BFCNN_REQUIRE_CPP") == "1":
            raise exc
        sys.stderr.write(
            "\nWARNING: bfcnn's C++ pyramid op was not built ({}: {}). The runtime works with its "
            "numpy pyramid, about 60% slower per frame. For the fast op install a C++17 compiler "
            "(Debian / Raspberry Pi OS / JetPack: sudo apt install g++ python3-dev) and reinstall.\n\n"
            .format(type(exc).__name__, exc))


ext = Pybind11Extension(
    "bfcnn.runtime._pyramid",
    ["cpp_ops/pyramid.cpp", "cpp_ops/bindings.cpp"],
    include_dirs=["cpp_ops"],
    cxx_std=17,
    extra_compile_args=["-O3"],
)

setup(
    name="bfcnn",
    version="0.1.0",
    description="Bias-free CNN blind image denoising for edge devices: trainer and light runtime",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=find_packages(include=["bfcnn", "bfcnn.*"]),
    package_data={"bfcnn": ["pretrained/*/*.tflite", "pretrained/*/*.onnx", "pretrained/*/card.json", "samples/*"]},
    ext_modules=[ext],
    cmdclass={"build_ext": OptionalBuildExt},
    install_requires=["numpy>=1.21", "opencv-python-headless>=4.5", "ai-edge-litert>=1.0; platform_machine!='armv7l'",
                      # 32-bit Raspberry Pi OS: LiteRT has no armv7l wheel; the TFLite runtime has
                      "tflite-runtime>=2.5; platform_machine=='armv7l'", "tqdm>=4.0"],
    extras_require={
        "train": ["tensorflow-cpu>=2.16; platform_machine=='x86_64'", "tensorflow>=2.16; platform_machine!='x86_64'",
                  "keras>=3.0", "tensorboard>=2.16",
                  # --to-onnx: the converter, and ONNX Runtime to check its file against LiteRT
                  "tf2onnx>=1.17", "onnx>=1.14", "onnxruntime>=1.17"],
        # backend="onnxruntime" on a PC; a Jetson takes NVIDIA's onnxruntime-gpu wheel instead (README)
        "onnx": ["onnxruntime>=1.17"],
        "picamera": [],  # picamera2 comes from the OS on a Pi: apt install python3-picamera2
        "test": ["pytest>=7", "hypothesis>=6", "scikit-image>=0.20", "bm3d>=4.0", "matplotlib>=3.5",
                 "pybind11>=2.10", "atheris>=2.3; platform_machine=='x86_64'"],
    },
    entry_points={"console_scripts": ["bfcnn-runtime=bfcnn.runtime.cli:console"]},
)
