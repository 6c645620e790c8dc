"""CLI commands: one module per command, each with ``register(subparsers)``.

A module only defines arguments at import time; it imports heavy libraries (TensorFlow, hls4ml,
Pythia) inside the function that runs the command, so ``wnae --help`` stays fast.
"""
