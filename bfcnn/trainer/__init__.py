"""The TensorFlow / Keras 3 half of bfcnn: models, data, training loop and export.

Importing this package imports TensorFlow; the runtime never does.
"""

INSTALL = 'pip install -e ".[train]" (from the repository root)'

try:
    import tensorflow  # noqa: F401
    import keras  # noqa: F401
except ImportError as _exc:   # the runtime install leaves them out: say how to get them
    raise ImportError(f"bfcnn's trainer needs TensorFlow and Keras 3, which the runtime install "
                      f"leaves out ({_exc}): {INSTALL}") from _exc
