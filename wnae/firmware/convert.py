"""QKeras model → hls4ml HLS project, configured so that its C simulation is bit-exact.

hls4ml 1.3.0 needs help to reproduce QKeras exactly; every fix is applied here, derived from the
model's own quantizers (nothing is loosened):

* ``granularity='name'`` (``'model'`` silently drops activation quantizers).
* A ``quantized_bits`` quantizer becomes ``ap_fixed<W, I+1, AP_RND_CONV, AP_SAT>`` — or
  ``ap_ufixed<W, I, …>`` when ``keep_negative=False``: hls4ml maps those to a signed type with one
  fractional bit less.
* hls4ml removes a linear quantizer that follows a layer (the input quantizer, a ``QDense``'s
  activation quantizer, a ``QActivation`` after a merge or a plain ``Dense``) and keeps the
  preceding layer's inferred, unrounded type. So the preceding layer's ``result`` type is set to
  the quantizer's type: the layer rounds its exact (wide) result once, as QKeras does. Not when
  the preceding layer rounds itself (``quantized_relu`` then ``quantized_bits``): QKeras rounds
  twice there, and hls4ml keeps the second rounding as a cast as long as the types differ.
* Kernel and bias types of unsigned quantizers: hls4ml gives ``quantized_bits(8, 0,
  keep_negative=False)`` weights a signed type one fractional bit short, whatever the config says;
  :func:`_unsigned_weight_types` corrects that for the conversion.
* Refused, with the layer named: what :func:`wnae.fixed_point.graph.deployed_ops` refuses (no input
  quantizer, a float ``BatchNormalization`` or other unsupported layer, leaky / symmetric /
  stochastic quantizers) and weight quantizers that are not plain grids (``alpha`` ≠ 1: a kernel
  quantizer without ``alpha`` is ``alpha='auto_po2'`` in QKeras, which hls4ml gives a scale layer
  of the default type).

The project is written to ``hls_projects/<run>-<target>/`` through a ``.partial`` directory,
with test-bench data (``tb_data/``) from real events.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from wnae.errors import FirmwareError
from wnae.fixed_point.graph import FixedFormat, deployed_ops, inbound_names

if TYPE_CHECKING:
    from wnae.firmware.config import FirmwareConfig

__all__ = ["ConvertedProject", "build_hls_config", "convert_model"]

logger = logging.getLogger(__name__)


def _consumers(model: Any) -> dict[str, list[str]]:
    users: dict[str, list[str]] = {layer.name: [] for layer in model.layers}
    for layer in model.layers:
        for src in inbound_names(layer):
            users[src].append(layer.name)
    return users


def build_hls_config(model: Any, target: FirmwareConfig, *, trace: bool = False) -> dict[str, Any]:
    """hls4ml config (``granularity='name'``) for a bit-exact conversion of ``model`` on ``target``.

    Args:
        model: the QKeras model.
        target: a :class:`~wnae.firmware.config.FirmwareConfig`.
        trace: record every layer's output (hls4ml ``Trace``) for layer-by-layer debugging.
    """
    import hls4ml

    t = target.hls4ml_target()
    default = t.default_precision.replace("ap_", "")
    cfg = hls4ml.utils.config_from_keras_model(
        model, granularity="name", backend=t.backend, default_precision=default, default_reuse_factor=t.reuse_factor
    )
    cfg["Model"]["Strategy"] = t.strategy
    cfg["Model"]["ReuseFactor"] = t.reuse_factor
    layers = cfg["LayerName"]

    def set_precision(name: str, key: str, qtype: str) -> None:
        # the layer and the activation hls4ml appends to a Dense (``<name>_linear``, ``_quantized_*``)
        suffixes = ("", "_linear", "_quantized_bits", "_quantized_relu") if key == "result" else ("",)
        for suffix in suffixes:
            if f"{name}{suffix}" in layers:
                layers[f"{name}{suffix}"].setdefault("Precision", {})[key] = qtype

    ops = {op.name: op for op in _convertible_ops(model)}
    users = _consumers(model)
    for op in ops.values():
        fmt = op.fmt if op.kind == "quantize" else op.activation
        if not isinstance(fmt, FixedFormat):
            continue
        set_precision(op.name, "result", fmt.hls_type())
        if op.kind != "quantize" or op.quantizer != "quantized_bits" or not op.inputs:
            continue
        src = op.inputs[0]
        # hls4ml folds a linear quantizer into the layer before it when their types are equal, so that
        # layer's result gets the quantizer's type: it rounds its exact (wide) result once, as QKeras
        # does. Not when that layer rounds itself (a relu, another quantizer): QKeras rounds twice
        # there, and hls4ml keeps the second as a cast only while the two types differ.
        if users[src] == [op.name] and not (src in ops and ops[src].rounds):  # the input layer does not round
            set_precision(src, "result", fmt.hls_type())
    for name, override in target.precision.layers.items():
        if name not in layers:
            msg = f"precision override for layer '{name}', which the model does not have ({', '.join(layers)})"
            raise FirmwareError(msg)
        layers[name]["Precision"].update({k: v.replace("ap_", "") for k, v in override.as_dict().items()})
    for name in layers:
        layers[name]["Trace"] = trace
    return cfg


def _convertible_ops(model: Any) -> list:
    """The model's on-chip operations, refusing what hls4ml 1.3.0 would convert inexactly (layer named).

    :func:`~wnae.fixed_point.graph.deployed_ops` refuses what no firmware computes exactly (no input
    quantizer, unsupported layers, leaky or symmetric quantizers, ...). Weight quantizers that are
    not plain grids are exact as constants in the reference and in the da4ml RTL, but hls4ml turns
    them into a scale layer of the default type: refused here.
    """
    ops = deployed_ops(model)
    for op in ops:
        if op.weight_problems:
            msg = (
                f"{op.weight_problems[0]}; hls4ml cannot convert it exactly (it adds a scale layer of the default "
                "type): use quantized_bits(..., alpha=1) for kernels and biases (the da4ml RTL flow, `wnae rtl`, "
                "takes the model as it is)"
            )
            raise FirmwareError(msg)
    return ops


@contextlib.contextmanager
def _unsigned_weight_types() -> Iterator[None]:
    """hls4ml 1.3.0 gives every ``quantized_bits`` weight a signed type (``QKerasQuantizer._get_type``):
    ``quantized_bits(8, 0, keep_negative=False)`` (LSB 2^-8) becomes ``ap_fixed<8,1>`` (LSB 2^-7), and a
    weight type set in the config is ignored when the layer has a quantizer. For the conversion only,
    unsigned quantizers get the unsigned type ``ap_ufixed<W, I>`` they describe, so that the weights,
    and the accumulator hls4ml infers from them, are exact.
    """
    from hls4ml.model.quantizers import QKerasQuantizer
    from hls4ml.model.types import FixedPrecisionType

    original = QKerasQuantizer._get_type

    def get_type(self: Any, quantizer_config: Any) -> Any:
        c = quantizer_config.get("config", {})
        if quantizer_config.get("class_name") == "quantized_bits" and not c.get("keep_negative", True):
            return FixedPrecisionType(width=int(c["bits"]), integer=int(c.get("integer", 0)), signed=False)
        return original(self, quantizer_config)

    QKerasQuantizer._get_type = get_type
    try:
        yield
    finally:
        QKerasQuantizer._get_type = original


def _check_weights_fit(model: Any, target: FirmwareConfig) -> None:
    """A weight/bias precision set in the target config must hold the layer's values (names the layer)."""
    from wnae.fixed_point.ap_types import parse_ap_type

    for name, override in target.precision.layers.items():
        try:
            weights = model.get_layer(name).get_weights()
        except ValueError:
            continue  # reported by build_hls_config
        for key, index in (("weight", 0), ("bias", 1)):
            text = getattr(override, key)
            if text is None or len(weights) <= index:
                continue
            ap = parse_ap_type(text)
            values = np.asarray(weights[index], np.float64)
            lsb = 2.0**-ap.fractional_bits
            hi = 2.0 ** (ap.integer_bits - (1 if ap.signed else 0)) - lsb
            lo = -(2.0 ** (ap.integer_bits - 1)) if ap.signed else 0.0
            on_grid = np.all(np.abs(values / lsb - np.round(values / lsb)) < 1e-6)
            if values.max(initial=0) > hi or values.min(initial=0) < lo or not on_grid:
                msg = (
                    f"layer '{name}': {key} precision {text} cannot hold its values "
                    f"(range [{values.min():.6g}, {values.max():.6g}], needs grid {lsb:g})"
                )
                raise FirmwareError(msg)


@dataclass
class ConvertedProject:
    """An hls4ml project on disk and its in-memory model (compiled when ``compiled``)."""

    path: Path
    hls_model: Any
    config: dict[str, Any]
    compiled: bool = False


def _compile(hls_model: Any, where: Path) -> None:
    """g++ build of the C simulation library (hls4ml's ``compile``), with the compiler's errors."""
    import contextlib
    import io
    import subprocess

    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log):
            hls_model.compile()
    except Exception as err:  # hls4ml raises a bare Exception when build_lib.sh fails
        if isinstance(err, subprocess.CalledProcessError):
            detail = f"{err.stderr or ''}{err.output or ''}{log.getvalue()}"
        else:
            detail = f"{err}\n{log.getvalue()}"
        msg = f"g++ build of {where} failed (project kept for inspection):\n{str(detail)[-4000:] or err}"
        raise FirmwareError(msg) from err


def convert_model(
    model: Any,
    target: FirmwareConfig,
    output_dir: str | Path,
    *,
    tb_inputs: np.ndarray | None = None,
    compile: bool = True,
    trace: bool = False,
    project_name: str = "myproject",
    namespace: str | None = None,
    write_weights_txt: bool = True,
) -> ConvertedProject:
    """Write (and compile) the hls4ml project of ``model`` for ``target`` in ``output_dir``.

    The project is written in ``<output_dir>.partial`` and renamed when complete, then compiled in
    place; a failing g++ build leaves the project there for inspection.

    Args:
        model: the deployable QKeras model.
        target: :class:`~wnae.firmware.config.FirmwareConfig`.
        output_dir: the project directory.
        tb_inputs: float (n, n_inputs) real events for the project's test bench (``tb_data/``).
        compile: build the C simulation library with g++ (no Vivado needed).
        trace: hls4ml layer tracing.
        project_name: the top function's (and its files') name.
        namespace: a C++ namespace around the generated code (hls4ml's ``Namespace``), or None.
        write_weights_txt: let the C simulation read the weights from ``weights/*.txt`` (faster
            builds); without, they are compiled in from ``weights/*.h`` only.
    """
    import tempfile

    import hls4ml

    output_dir = Path(output_dir).absolute()  # hls4ml's build and library refer to it from elsewhere
    cfg = build_hls_config(model, target, trace=trace)
    _check_weights_fit(model, target)
    t = target.hls4ml_target()
    partial = output_dir.with_name(output_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tb_dir:
        kwargs: dict[str, Any] = {}
        if tb_inputs is not None:
            x_path, y_path = Path(tb_dir) / "tb_input_features.dat", Path(tb_dir) / "tb_output_predictions.dat"
            np.savetxt(x_path, tb_inputs.astype(np.float64), fmt="%.10g")
            np.savetxt(
                y_path,
                np.asarray(model.predict(tb_inputs, verbose=0), np.float64).reshape(len(tb_inputs), -1),
                fmt="%.10g",
            )
            kwargs.update(input_data_tb=str(x_path), output_data_tb=str(y_path))
        try:
            with _unsigned_weight_types():
                hls_model = hls4ml.converters.convert_from_keras_model(
                    model,
                    hls_config=cfg,
                    output_dir=str(partial),
                    backend=t.backend,
                    io_type=t.io_type,
                    part=t.part,
                    clock_period=t.clock_period_ns,
                    project_name=project_name,
                    namespace=namespace,
                    write_weights_txt=write_weights_txt,
                    **kwargs,
                )
            hls_model.write()
        except Exception as err:  # hls4ml raises bare Exceptions for unsupported layers/configs
            shutil.rmtree(partial, ignore_errors=True)
            msg = f"hls4ml could not convert the model for target {target.name}: {err}"
            raise FirmwareError(msg) from err
        if output_dir.exists():
            shutil.rmtree(output_dir)
        partial.rename(output_dir)
        # the C simulation library refers to its project directory by absolute path: build it in place
        hls_model.config.config["OutputDir"] = str(output_dir)
        if compile:  # hls4ml's compile() writes the project again: the tb files must still exist
            _compile(hls_model, output_dir)
    logger.info("wrote hls4ml project %s", output_dir)
    return ConvertedProject(output_dir, hls_model, cfg, compiled=compile)
