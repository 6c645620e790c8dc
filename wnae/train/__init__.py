"""Training loop and run directories (``wnae train``): :mod:`~wnae.models.config`, the events
(:mod:`~wnae.train.data_source`: in memory or streamed), :mod:`~wnae.train.loop`."""
