"""Quantized (QKeras) models: WNAE / NAE / AE, AXOL1TL-style VAE, MLP encoder; their losses and
serialisation. TensorFlow is imported only when a model is built or loaded."""
