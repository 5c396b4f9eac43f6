"""The TensorFlow / Keras 3 half of bfcnn: models, data, training loop and export.

Importing this package imports TensorFlow; the runtime never does.
"""
