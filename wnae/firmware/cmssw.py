"""``wnae export cmssw``: a trained run as a CMSSW emulator plug-in in the ``cms-hls4ml`` layout.

CMSSW's ``AXOL1TLCondition`` loads an anomaly-detection model through
``hls4mlEmulator::ModelLoader``: ``dlopen("<name>.so")``, ``create_model()`` /
``destroy_model()``, and a ``hls4mlEmulator::Model`` whose ``prepare_input`` takes a pointer to the
57 hardware values (``ap_fixed<18,13>``, in the order of :mod:`wnae.data.hardware_inputs`),
``predict()`` runs the network, and ``read_result`` fills a
``std::pair<ap_fixed<18,14,AP_RND_CONV,AP_SAT>, ap_ufixed<18,14>>`` whose ``.second`` is the score
(the menu cuts on ``score · 16``). The exported directory holds, like AXOL1TL v6's:

* ``NN/`` — the hls4ml HLS C++ of the deployed model, in a namespace of its own, weights compiled in;
* ``scales.h`` — ``ad_offsets`` / ``ad_shift`` and the ``unscaled_t`` input type;
* ``<name>_emulator.cpp`` — the plug-in: scales the inputs exactly as the firmware does
  (``(x − offset) >> shift`` in ``ap_fixed<18,13>``, then the cast to the network's input type);
* ``Makefile`` — ``<name>.so`` with g++ against ``emulator.h`` and the ``ap_types`` (paths are
  variables; the copies under ``include/`` are the default);
* ``README.md`` — input order, units, types, and how to drop it into a CMSSW area;
* ``menu.json`` — the run's working points as integer cuts on ``score · 16`` (when it has been evaluated);
* ``export.json`` — provenance.

:func:`check_plugin` builds the ``.so``, loads it with ``dlopen`` as ``ModelLoader`` does (a small
host program), feeds it real events' hardware integers and edge cases, and compares every score bit
for bit with the exact reference of the deployed model (the reference ``wnae csim`` requires the
C simulation to match).
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from wnae._io import file_sha256, write_json_atomic
from wnae.data.hardware_inputs import (
    OFFSET_BITS,
    SHIFT_BITS,
    UNSCALED_INTEGER,
    UNSCALED_WIDTH,
    L1HardwareNormaliser,
    hardware_edge_cases,
    hardware_units,
    l1_hardware_integers,
)
from wnae.data.schema import FEATURE_NAMES, N_FEATURES
from wnae.errors import FirmwareError, ToolNotFoundError
from wnae.firmware.compare import collect_events, deployed_model
from wnae.firmware.menu import MENU_FILE, score_format, write_menu
from wnae.fixed_point.graph import FixedFormat, deployed_ops

if TYPE_CHECKING:
    from wnae.firmware.config import FirmwareConfig
    from wnae.models.serialization import TrainedRun

__all__ = ["CMSSW_RESULT_TYPE", "CMSSW_SCORE_TYPE", "ExportResult", "PluginCheck", "check_plugin", "export_cmssw"]

logger = logging.getLogger(__name__)

#: The pair CMSSW's ``AXOL1TLCondition`` reads (``readResult<resulttype, losstype>`` for v5 and later).
CMSSW_RESULT_TYPE = "ap_fixed<18,14,AP_RND_CONV,AP_SAT>"
CMSSW_SCORE_TYPE = "ap_ufixed<18,14>"
_SCORE_FMT = FixedFormat(False, 14, 4)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_HOST = Path(__file__).with_name("cmssw_host.cpp")


def _emulator_header() -> str:
    return """\
// The hls4mlEmulator::Model interface as CMSSW's hls4mlEmulatorExtras declares it
// (cms-hls4ml/hls4mlEmulatorExtras, include/hls4ml/emulator.h): the plug-in is built against this
// copy; in a CMSSW area point EMULATOR_INCLUDE at the release's own.
#ifndef HLS4ML_EMULATOR_H_
#define HLS4ML_EMULATOR_H_

#include <any>

namespace hls4mlEmulator {
class Model {
 public:
  virtual void prepare_input(std::any input) = 0;
  virtual void predict() = 0;
  virtual void read_result(std::any result) = 0;
  virtual ~Model() = default;
};
typedef Model* create_model_cls();
typedef void destroy_model_cls(Model*);
}  // namespace hls4mlEmulator

#endif
"""


def _scales_header(name: str, namespace: str, norm: L1HardwareNormaliser) -> str:
    shifts = ", ".join(str(int(v)) for v in norm.shift)
    offsets = ", ".join(str(int(v)) for v in norm.offset)
    guard = f"{name.upper()}_SCALES_H_"
    return f"""\
// Input scaling of {name}: x -> (x - ad_offsets[i]) >> ad_shift[i], as on chip (written by wnae).
#ifndef {guard}
#define {guard}

#include "ap_fixed.h"

namespace {namespace} {{

// the 57 hardware values as CMSSW's AXOL1TLCondition passes them (ADModelInput)
typedef ap_fixed<{UNSCALED_WIDTH},{UNSCALED_INTEGER}> unscaled_t;
// what read_result fills: std::pair<cmssw_result_t, cmssw_score_t>, the score in .second
typedef {CMSSW_RESULT_TYPE} cmssw_result_t;
typedef {CMSSW_SCORE_TYPE} cmssw_score_t;
typedef ap_fixed<{SHIFT_BITS},{SHIFT_BITS}> ad_shift_t;
typedef ap_fixed<{OFFSET_BITS},{OFFSET_BITS}> ad_offset_t;

static const int N_AD_INPUTS = {N_FEATURES};

const ad_shift_t ad_shift[{N_FEATURES}] = {{{shifts}}};

const ad_offset_t ad_offsets[{N_FEATURES}] = {{{offsets}}};

}}  // namespace {namespace}
#endif
"""


def _emulator_source(name: str, namespace: str, n_outputs: int) -> str:
    return f"""\
// CMSSW emulator plug-in of {name} (written by wnae): loaded by hls4mlEmulator::ModelLoader("{name}").
#include <any>
#include <utility>

#include "NN/{name}.h"
#include "emulator.h"
#include "scales.h"

namespace {{

class {name}_emulator : public hls4mlEmulator::Model {{
 private:
  {namespace}::unscaled_t unscaled_[{namespace}::N_AD_INPUTS];
  {namespace}::input_t scaled_[{namespace}::N_AD_INPUTS];
  {namespace}::result_t result_[{n_outputs}];

 public:
  // input: a {namespace}::unscaled_t* to the 57 hardware values; scaled exactly as the firmware does
  void prepare_input(std::any input) override {{
    {namespace}::unscaled_t* unscaled = std::any_cast<{namespace}::unscaled_t*>(input);
    for (int i = 0; i < {namespace}::N_AD_INPUTS; i++) {{
      unscaled_[i] = unscaled[i];
      {namespace}::unscaled_t shifted = unscaled_[i] - {namespace}::ad_offsets[i];
      scaled_[i] = shifted >> {namespace}::ad_shift[i];
    }}
  }}

  void predict() override {{ {namespace}::{name}(scaled_, result_); }}

  // result: a std::pair<cmssw_result_t, cmssw_score_t>*; both hold the score
  void read_result(std::any result) override {{
    auto* pair = std::any_cast<std::pair<{namespace}::cmssw_result_t, {namespace}::cmssw_score_t>*>(result);
    pair->first = result_[0];
    pair->second = result_[0];
  }}
}};

}}  // namespace

extern "C" hls4mlEmulator::Model* create_model() {{ return new {name}_emulator; }}

extern "C" void destroy_model(hls4mlEmulator::Model* m) {{ delete m; }}
"""


def _makefile(name: str) -> str:
    return f"""\
# {name}.so: the CMSSW emulator plug-in (written by wnae). Paths are variables, e.g.
#   make EMULATOR_INCLUDE=$CMSSW_RELEASE_BASE/../../../external/<arch>/hls4mlEmulatorExtras/include/hls4ml
CXX ?= g++
CXXFLAGS ?= -O3 -std=c++17
EMULATOR_INCLUDE ?= include/hls4ml
AP_TYPES ?= include/ap_types
INCLUDES := -I$(EMULATOR_INCLUDE) -I$(AP_TYPES) -INN -I.

.PHONY: all clean
all: {name}.so

{name}.so: {name}_emulator.o {name}.o
\t$(CXX) $(CXXFLAGS) -fPIC -shared $^ -o $@

{name}.o: NN/{name}.cpp NN/{name}.h NN/defines.h NN/parameters.h
\t$(CXX) $(CXXFLAGS) -fPIC $(INCLUDES) -c $< -o $@

{name}_emulator.o: {name}_emulator.cpp scales.h NN/{name}.h
\t$(CXX) $(CXXFLAGS) -fPIC $(INCLUDES) -c $< -o $@

clean:
\trm -f {name}_emulator.o {name}.o {name}.so
"""


def _input_table() -> str:
    lsb, phi_bins = hardware_units()
    rows = ["| index | input | unit |", "|---:|---|---|"]
    for i, feature in enumerate(FEATURE_NAMES):
        kin = feature.rsplit("_", 1)[1]
        muon = feature.startswith("muon")
        if kin == "pt":
            unit = "`hwPt / 2` (1 GeV, rounded down)"
        elif kin == "eta":
            unit = (
                "0 (always)"
                if feature.startswith("MET")
                else (f"`hwEtaAtVtx` ({lsb[i]:g})" if muon else f"`hwEta` ({lsb[i]:g})")
            )
        else:
            unit = f"`{'hwPhiAtVtx' if muon else 'hwPhi'}` (2π/{phi_bins[i]}, in [0, {phi_bins[i]}))"
        rows.append(f"| {i} | {feature} | {unit} |")
    return "\n".join(rows)


def _readme(name: str, namespace: str, info: dict[str, Any]) -> str:
    menu_line = (
        "`menu.json` here holds each working point of the run in that unit (`threshold_geq` for the "
        "condition's `score * 16 >= minAXOL1TLThreshold`) with its rate."
        if info.get("menu")
        else "the run has no working points yet (`wnae evaluate`, then export again for `menu.json`)."
    )
    return f"""\
# {name}: CMSSW emulator plug-in

Written by `wnae export cmssw` from run `{info["run"]}` (model `{info["model"]}`, target `{info["target"]}`,
wnae {info["wnae_version"]}). Same contract as AXOL1TL's `GTADModel_emulator_v6.cpp`:

* `hls4mlEmulator::ModelLoader("{name}")` opens `{name}.so` and calls `create_model()` / `destroy_model()`.
* `prepare_input(std::any)` takes a `{namespace}::unscaled_t*` (`ap_fixed<18,13>`) to the 57 hardware
  values below and scales them as the firmware does: `(x - ad_offsets[i]) >> ad_shift[i]` in
  `ap_fixed<18,13>` (floors to 2^-5; a negative shift is a left shift), then the cast to the network's
  input type `{info["input_type"]}`.
* `predict()` runs `{namespace}::{name}` (the hls4ml C++ under `NN/`, weights compiled in).
* `read_result(std::any)` fills a `std::pair<{CMSSW_RESULT_TYPE}, {CMSSW_SCORE_TYPE}>*`; `.second` is the
  score (the network's score type is `{info["score_type"]}`). The menu cuts on `score * 16`, the score's
  bits as an integer: {menu_line}

## Inputs (CMSSW `AXOL1TLCondition`'s `ADModelInput` order)

MET (`kMissingEt`), 4 e/γ, 4 muons, 10 jets, pT-ordered, each (pT, η, φ); an empty slot is 0.

{_input_table()}

## Build and use

```bash
make                                 # {name}.so with g++ against include/hls4ml/emulator.h and include/ap_types
make EMULATOR_INCLUDE=/path/to/hls4mlEmulatorExtras/include/hls4ml AP_TYPES=/path/to/ap_types
```

In a CMSSW area the plug-in is an external like the `cms-hls4ml` AXOL1TL models: build `{name}.so`
against the release's `hls4mlEmulatorExtras` and `ap_types` (pass their include paths as above), put
it on the library path (`LD_LIBRARY_PATH`, or the external's `lib/` in a scram tool file), and name the
model in the menu's AXOL1TL condition so that `"GTADModel_" + modelVersion` is `{name}`; export with
`--name GTADModel_<version>` for that.
"""


@dataclass
class ExportResult:
    """What ``export_cmssw`` wrote."""

    directory: Path
    name: str
    namespace: str
    target: Any
    info: dict[str, Any] = field(default_factory=dict)


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        msg = f"--name {name!r} must be a C++ identifier (letters, digits, underscores; not starting with a digit)"
        raise FirmwareError(msg)


def export_cmssw(
    run: TrainedRun, target: FirmwareConfig, output: str | Path, *, name: str, overwrite: bool = False
) -> ExportResult:
    """Write the CMSSW plug-in directory of ``run`` (a :class:`~wnae.models.serialization.TrainedRun`).

    Written in ``<output>.partial`` and renamed when complete.

    Raises:
        FirmwareError: a run not trained on hardware inputs (``normalisation: l1_hardware``), a model
            that does not output one score in a type ``ap_ufixed<18,14>`` holds exactly, a bad name,
            or an existing ``output`` without ``overwrite``.
    """
    from wnae import __version__
    from wnae.firmware.convert import convert_model

    _check_name(name)
    output = Path(output).absolute()
    if output.exists() and not overwrite:
        msg = f"{output} exists; pass --overwrite to replace it"
        raise FirmwareError(msg)
    norm = run.normaliser
    if not isinstance(norm, L1HardwareNormaliser):
        msg = (
            f"run {run.name} was trained with normalisation '{norm.kind}': a CMSSW plug-in takes the raw L1 "
            "hardware integers and scales them on chip; train with 'normalisation: l1_hardware'"
        )
        raise FirmwareError(msg)
    model, model_output = deployed_model(run, target)
    if model_output != "score":
        msg = f"target {target.name} deploys a latent vector; the CMSSW plug-in returns one score"
        raise FirmwareError(msg)
    ops = deployed_ops(model)
    fmt = score_format(ops)
    if fmt.signed or fmt.integer > _SCORE_FMT.integer or fmt.fractional > _SCORE_FMT.fractional:
        msg = (
            f"the score type {fmt} is not held exactly by CMSSW's {CMSSW_SCORE_TYPE} (unsigned, ≤ 14 integer "
            "and ≤ 4 fractional bits): set quant.score accordingly"
        )
        raise FirmwareError(msg)
    namespace = f"wnae_{name.lower()}"
    partial = output.with_name(output.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        project = convert_model(
            model,
            target,
            partial / "hls_project",
            compile=False,
            project_name=name,
            namespace=namespace,
            write_weights_txt=False,
        )
        firmware = project.path / "firmware"
        shutil.copytree(firmware, partial / "NN", ignore=shutil.ignore_patterns("ap_types", "*.txt"))
        include = partial / "include"
        shutil.copytree(firmware / "ap_types", include / "ap_types")
        (include / "hls4ml").mkdir(parents=True)
        (include / "hls4ml" / "emulator.h").write_text(_emulator_header())
        shutil.rmtree(project.path)
        input_type = _defines_type(partial / "NN" / "defines.h", "input_t")
        n_outputs = int(np.prod(model.output_shape[1:]))
        info = {
            "run": str(run.path),
            "run_name": run.name,
            "model": run.info.get("model"),
            "target": target.name,
            "name": name,
            "namespace": namespace,
            "wnae_version": __version__,
            "input_type": input_type,
            "score_type": str(fmt),
            "cmssw_result_type": CMSSW_RESULT_TYPE,
            "cmssw_score_type": CMSSW_SCORE_TYPE,
            "unscaled_type": f"ap_fixed<{UNSCALED_WIDTH},{UNSCALED_INTEGER}>",
            "inputs": list(FEATURE_NAMES),
            "ad_offsets": norm.offset.tolist(),
            "ad_shift": norm.shift.tolist(),
            "deploy_sha256": file_sha256(Path(run.path) / "deploy.h5"),
        }
        (partial / "scales.h").write_text(_scales_header(name, namespace, norm))
        (partial / f"{name}_emulator.cpp").write_text(_emulator_source(name, namespace, n_outputs))
        (partial / "Makefile").write_text(_makefile(name))
        wp_path = Path(run.path) / "working_points.json"
        info["menu"] = MENU_FILE if wp_path.is_file() else None
        if wp_path.is_file():
            write_menu(partial, wp_path, fmt)
        (partial / "README.md").write_text(_readme(name, namespace, info))
        write_json_atomic(partial / "export.json", info)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if output.exists():
        shutil.rmtree(output)
    partial.rename(output)
    logger.info("wrote the CMSSW plug-in %s", output)
    return ExportResult(output, name, namespace, target, info)


def _defines_type(defines: Path, typedef: str) -> str:
    m = re.search(rf"typedef\s+(.+?)\s+{re.escape(typedef)}\s*;", defines.read_text())
    if m is None:
        msg = f"{defines}: no typedef of {typedef}"
        raise FirmwareError(msg)
    return m.group(1)


@dataclass
class PluginCheck:
    """The plug-in's scores against the exact reference, bit for bit."""

    directory: str
    events: int
    edge_cases: int
    mismatches: int
    edge_case_mismatches: int
    first_mismatch: dict[str, Any] | None
    build_seconds: float
    host: str

    @property
    def bit_exact(self) -> bool:
        return self.mismatches == 0 and self.edge_case_mismatches == 0

    def summary(self) -> str:
        verdict = "bit-exact" if self.bit_exact else "MISMATCH"
        lines = [
            f"CMSSW plug-in {self.directory}: {verdict}",
            f"  real events       {self.events}: {self.mismatches} scores differ from the exact reference",
            f"  edge cases        {self.edge_cases}: {self.edge_case_mismatches} differ",
            f"  build             {self.build_seconds:.1f} s (make, g++)",
        ]
        if self.first_mismatch:
            lines.append(f"  first mismatch    {self.first_mismatch}")
        return "\n".join(lines) + "\n"


def _run(cmd: list[str], cwd: Path, what: str) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        msg = f"{what} failed ({' '.join(cmd)}):\n{(proc.stderr or proc.stdout)[-3000:]}"
        raise FirmwareError(msg)


def check_plugin(run: TrainedRun, export: ExportResult, data_dir: str | Path, *, n_events: int = 10_000) -> PluginCheck:
    """Build ``<name>.so``, load it as ``ModelLoader`` does, and compare its scores bit for bit with the
    exact reference on ≥ ``n_events`` real events (their hardware integers) and :func:`~wnae.data.hardware_inputs.hardware_edge_cases`.
    Writes ``check.json`` in the export directory.

    Raises:
        ToolNotFoundError: no ``make`` or ``g++``.
    """
    import time

    from wnae.fixed_point.reference import exact_reference

    for tool in ("make", "g++"):
        if shutil.which(tool) is None:
            msg = f"'{tool}' is not on PATH: the CMSSW plug-in cannot be built here"
            raise ToolNotFoundError(msg)
    directory = export.directory
    t0 = time.perf_counter()
    _run(["make", "-j2", f"{export.name}.so"], directory, "building the plug-in")
    host_dir = directory / "check"
    host_dir.mkdir(exist_ok=True)
    host = host_dir / "load_plugin"
    _run(
        [
            "g++",
            "-O2",
            "-std=c++17",
            f"-I{directory / 'include' / 'hls4ml'}",
            f"-I{directory / 'include' / 'ap_types'}",
            str(_HOST),
            "-o",
            str(host),
            "-ldl",
        ],
        directory,
        "building the loader",
    )
    build_seconds = time.perf_counter() - t0

    particles, _, _ = collect_events(data_dir, n_events)
    real = l1_hardware_integers(particles)
    edges = hardware_edge_cases()
    hw = np.concatenate([real, edges])
    inputs = host_dir / "inputs.bin"
    hw.astype("<i4").tofile(inputs)
    proc = subprocess.run(
        [str(host), str(directory / f"{export.name}.so"), str(inputs), str(N_FEATURES)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        msg = f"the plug-in loader failed:\n{(proc.stderr or proc.stdout)[-3000:]}"
        raise FirmwareError(msg)
    got = np.array([int(v) for v in proc.stdout.split()], np.int64)
    if len(got) != len(hw):
        msg = f"the plug-in loader returned {len(got)} scores for {len(hw)} events"
        raise FirmwareError(msg)
    model, _ = deployed_model(run, export.target)
    norm = run.normaliser
    assert isinstance(norm, L1HardwareNormaliser)  # export_cmssw exports only runs on hardware inputs
    x = norm.transform_hardware(hw)
    ref = exact_reference(model, x, compare_qkeras=False).outputs.reshape(len(hw), -1)[:, 0]
    want = np.ldexp(ref, _SCORE_FMT.fractional)
    differ = got != want
    first = None
    if differ.any():
        i = int(np.argmax(differ))
        first = {
            "row": i,
            "edge_case": bool(i >= len(real)),
            "plugin_score_int": int(got[i]),
            "reference_score_int": float(want[i]),
            "hardware_inputs": hw[i].tolist(),
        }
    check = PluginCheck(
        str(directory),
        len(real),
        len(edges),
        int(differ[: len(real)].sum()),
        int(differ[len(real) :].sum()),
        first,
        build_seconds,
        str(host),
    )
    write_json_atomic(directory / "check.json", {**asdict(check), "bit_exact": check.bit_exact})
    return check
