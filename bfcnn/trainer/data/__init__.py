"""Training data: image folders -> random crops (numpy) -> corruption (TensorFlow, in the step)."""
