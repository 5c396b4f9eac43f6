"""One distribution, `bfcnn`: the light runtime by default, the trainer with the [train] extra.

The C++ pyramid op (cpp_ops/) is built here through pybind11; no -march flags, so the
wheel stays portable (x86-64, aarch64).
"""
from pybind11.setup_helpers import Pybind11Extension, build_ext
from setuptools import find_packages, setup

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
    cmdclass={"build_ext": build_ext},
    install_requires=["numpy>=1.21", "opencv-python-headless>=4.5", "ai-edge-litert>=1.0; platform_machine!='armv7l'", "tqdm>=4.0"],
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
