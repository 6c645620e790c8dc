"""``make install``'s warm-up traces a model through the same da4ml path as the budget check of ``make train``."""

from __future__ import annotations

from wnae.firmware.rtl.warmup import compile_kernels


def test_the_warmup_traces_a_two_stage_model_on_the_global_trigger_target():
    estimate, seconds = compile_kernels("gt_run3")
    assert estimate.target == "gt_run3"
    assert estimate.adder_depth > 0 and estimate.latency_cycles >= 1  # da4ml solved the layers' products
    assert estimate.lut_estimate > 0
    assert seconds > 0
