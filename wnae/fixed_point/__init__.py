"""Bit-exact fixed-point arithmetic of the deployed networks, below every layer that needs it.

* :mod:`~wnae.fixed_point.ap_types` — ``ap_fixed``/``ap_int`` strings parsed and checked.
* :mod:`~wnae.fixed_point.graph` — a deployed QKeras model as a flat list of fixed-point ops.
* :mod:`~wnae.fixed_point.reference` — those ops evaluated exactly in integers: what the firmware
  computes, used for the scores of a run (:mod:`wnae.models.serialization`) and as the reference of
  every firmware check (:mod:`wnae.firmware.compare`).

It imports nothing of ``wnae`` but :mod:`wnae.errors`.
"""
