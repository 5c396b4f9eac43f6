"""Names of the registered model types (kept TensorFlow-free so config validation is light).

The trainer's registry (bfcnn.trainer.registry) must register exactly these; a test checks it.
"""
MODEL_TYPES = ("resnet", "sparse_resnet", "gatenet", "dncnn")
