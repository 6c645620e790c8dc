"""Quantized (QKeras) models of the toolkit and everything needed to train and reload them.

Modules, in pipeline order:

* :mod:`~wnae.models.quantization` — :class:`QuantSpec`, one fixed-point format → QKeras quantizer
  and ``ap_fixed`` type (the one place the sign-bit convention is converted).
* :mod:`~wnae.models.blocks` — input quantizer, QDense + quantized ReLU stacks, the on-chip score head.
* :mod:`~wnae.models.losses` — reconstruction energy, ``emd_loss`` / ``sliced_emd_loss`` (POT), NAE,
  KL, InfoNCE.
* :mod:`~wnae.models.transport` — the WNAE's W estimators: exact (network simplex, linear
  assignment) and the learned dual potential (:class:`~wnae.models.transport.NeuralDual`).
* :mod:`~wnae.models.sampler` — Langevin MCMC and the replay buffer (persistent chains).
* :mod:`~wnae.models.ae` (network), :mod:`~wnae.models.wnae` (AE / NAE / WNAE objectives),
  :mod:`~wnae.models.vae`, :mod:`~wnae.models.mlp_encoder` (+ :mod:`~wnae.models.augment`) —
  the model families.
* :mod:`~wnae.models.registry` — name → family builder.
* :mod:`~wnae.models.serialization` — QKeras ``custom_objects``, save/load, :func:`load_run`.

TensorFlow, QKeras and POT are imported only when a model is built or loaded, never at
``import wnae``.
"""
