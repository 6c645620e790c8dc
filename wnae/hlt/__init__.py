"""The HLT half: particle-level encoders behind the L1 anomaly seed, and the two-level trigger.

Modules in pipeline order: :mod:`~wnae.hlt.config` (YAML configs), :mod:`~wnae.hlt.inputs`
(PF candidates → encoder inputs), :mod:`~wnae.hlt.encoders` (Linformer, DeepSets, MLPs),
:mod:`~wnae.hlt.train` (InfoNCE + CE, GMM), :mod:`~wnae.hlt.model` (a trained run as a scorer),
:mod:`~wnae.hlt.two_level` (L1 seed × HLT threshold → rates, efficiencies), :mod:`~wnae.hlt.evaluate`
(both runs' scores → the two-level evaluation, purity), :mod:`~wnae.hlt.report` (tables and plots),
:mod:`~wnae.hlt.compare` (encoders over seeds) and :mod:`~wnae.hlt.timing` (ms/event).
"""
