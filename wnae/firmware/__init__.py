"""Firmware: FPGA target configs, hls4ml projects, synthesis reports and L1 budget checks.

Modules (imported on demand; importing :mod:`wnae.firmware` imports neither TensorFlow nor hls4ml):

- :mod:`wnae.firmware.config` — :class:`~wnae.firmware.config.FirmwareConfig`, one YAML file per
  target in ``firmware_configs/``, and the table of FPGA part capacities.
- :mod:`wnae.firmware.reports` — :class:`~wnae.firmware.reports.SynthReport`: latency, II and
  resources parsed with hls4ml's report API, every number labelled with its source.
- :mod:`wnae.firmware.budgets` — a report checked against a target's L1 budget, line by line.
- :mod:`wnae.firmware.tools` — find ``vivado_hls``/``vitis-run``/``vivado`` and run the project's
  build through them.
- :mod:`wnae.firmware.model_size` — what is known without synthesis (multiplications, non-zero
  weights, bit widths per layer).
"""

from __future__ import annotations

__all__: list[str] = []
