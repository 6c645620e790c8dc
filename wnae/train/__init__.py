"""Training loop and run directories (``wnae train``)."""
