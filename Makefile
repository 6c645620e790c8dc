# wnae — every target is one `python -m wnae ...` call, so it also runs without make.
PYTHON_BASE ?= python3.11
VENV        ?= .venv
PY          := $(VENV)/bin/python
WNAE        := $(PY) -m wnae
PYTEST_ARGS ?=
TARGET      ?= gt_run3
RUN         ?=
CONFIG      ?=
SCAN        ?=
SCHEDULER   ?=
HLT_CONFIG  ?=
HLT_RUN     ?= hlt_runs/pf_mlp-s0
HLT_DATA    ?=
L1_RUN      ?=

.DEFAULT_GOAL := help
.PHONY: help install test test-fast lint typecheck docs data data-rate-tail data-study data-check data-import data-export train evaluate convert hls-csim rtl synth-report export-cmssw export-onnx scan hlt-train hlt-evaluate hlt-compare clean compare

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON_BASE) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test,lint,rtl,docs]'
	$(PY) -m pip check
	$(PY) -m wnae.firmware.rtl.warmup  # da4ml's numba kernels, compiled once here rather than in the first make train (~2 min)
	touch $@

install: $(VENV)/.installed  ## create .venv and install wnae with its pinned dependencies

# --dist loadscope: the scan's and the RTL flow's module fixtures (~100 s and ~75 s) are built once, not on
# both workers (--dist loadgroup does not group on pytest 9.2: pytest-xdist issue 1386)
test: $(VENV)/.installed  ## run the full test suite, on every core (pytest-xdist, a module per worker: its module-scoped fixtures are built once)
	$(PY) -m pytest -n auto --dist loadscope $(PYTEST_ARGS)

test-fast: $(VENV)/.installed  ## the quick loop: every test not marked slow, on every core (~2 min on 2 cores)
	$(PY) -m pytest -n auto --dist loadscope -m "not slow" $(PYTEST_ARGS)

lint: $(VENV)/.installed  ## ruff check and ruff format --check over the package and the tests
	$(VENV)/bin/ruff check wnae tests
	$(VENV)/bin/ruff format --check wnae tests

typecheck: $(VENV)/.installed  ## mypy over wnae/ (config in pyproject.toml)
	$(VENV)/bin/mypy

docs: $(VENV)/.installed  ## build the documentation site into docs/_build/html (warnings and broken references are errors)
	$(PY) -m sphinx -W --keep-going -n -q -b html docs docs/_build/html

data: $(VENV)/.installed  ## generate the default data set under data/ (SCHEDULER=local or tcp://HOST:PORT: as Dask tasks)
	$(WNAE) generate $(if $(SCHEDULER),--scheduler $(SCHEDULER))

data-rate-tail: $(VENV)/.installed  ## data_rate_tail/: the default data with 12x/4x/2x the QCD pT-hat slices that set the 1 kHz rate (~17 min after make data, whose files it reuses)
	mkdir -p data_rate_tail
	cp -n data/*.h5 data_rate_tail/ 2>/dev/null || true  # the default's files: the generator reuses those that match
	$(WNAE) generate --config wnae/configs/generate_rate_tail.yml $(if $(SCHEDULER),--scheduler $(SCHEDULER))

data-study: $(VENV)/.installed  ## data_study/: the HLT study's scale, 50k events per SM process with PF candidates, beside data_rate_tail/'s zero bias (reuses data_rate_tail/ or data/)
	mkdir -p data_study
	cp -n $(if $(wildcard data_rate_tail/*.h5),data_rate_tail,data)/*.h5 data_study/ 2>/dev/null || true  # the generator reuses those that match
	$(WNAE) generate --config wnae/configs/generate_study.yml $(if $(SCHEDULER),--scheduler $(SCHEDULER))

data-check: $(VENV)/.installed  ## summarise the default data set (counts, spectra, plots)
	$(WNAE) data summary data/*.h5

FORMAT      ?=
ROLE        ?=
NAME        ?=
FILES       ?=
OUT         ?= own_data
IMPORT_ARGS ?=
data-import: $(VENV)/.installed  ## your own files as one sample of OUT (default own_data/): FORMAT=adc2021|axol1tl|l1ntuple ROLE=background|zero_bias|signal|unseen_sm NAME= FILES='ntuples/*.root' (IMPORT_ARGS=--input-rate-khz ...)
	$(WNAE) data import --format $(FORMAT) --role $(ROLE) --name $(NAME) --output-dir $(OUT) $(IMPORT_ARGS) $(FILES)

DATA_DIR    ?= data
EXPORT_OUT  ?= adc2021_export
data-export: $(VENV)/.installed  ## a data directory (DATA_DIR=, default data/) as plain ADC2021 files in EXPORT_OUT (default adc2021_export/, + export.json)
	$(WNAE) data export $(DATA_DIR) --output-dir $(EXPORT_OUT)

train: $(VENV)/.installed  ## train the default two-stage WNAE; CONFIG=wnae/configs/train_vicreg_vae.yml, MODEL=wnae|ae|nae|vae|mlp_encoder (full input)
	$(WNAE) train $(if $(MODEL),--model $(MODEL)) $(if $(CONFIG),--config $(CONFIG))

evaluate: $(VENV)/.installed  ## evaluate the latest run (or RUN=...; SCHEDULER=local or tcp://HOST:PORT: score as Dask tasks)
	$(WNAE) evaluate $(RUN) $(if $(SCHEDULER),--scheduler $(SCHEDULER))

convert: $(VENV)/.installed  ## hls4ml project of the latest run (or RUN=...) for TARGET (default gt_run3)
	$(WNAE) convert $(RUN) --target $(TARGET)

hls-csim: $(VENV)/.installed  ## g++ C sim of the HLS project (+ Verilator RTL sim), bit for bit against the exact reference (RUN=, TARGET=)
	$(WNAE) csim $(RUN) --target $(TARGET)

rtl: $(VENV)/.installed  ## open-source RTL: da4ml Verilog, Verilator bit-exact sim, Yosys resources (RUN=, TARGET=, NO_SYNTH=1)
	$(WNAE) rtl $(RUN) --target $(TARGET) --check-budget $(if $(NO_SYNTH),--no-synth)

export-cmssw: $(VENV)/.installed  ## CMSSW emulator plug-in of a run trained on hardware inputs (RUN=, NAME=GTADModel_<v>): exports/<NAME>/, .so built and checked bit for bit
	$(WNAE) export cmssw $(RUN) --target $(TARGET) $(if $(NAME),--name $(NAME))

synth-report: $(VENV)/.installed  ## synthesis reports against the L1 budget (RUN=..., TARGET=..., REPORTS=...)
	$(WNAE) synth-report $(RUN) --target $(TARGET) $(if $(REPORTS),--reports $(REPORTS))

scan: $(VENV)/.installed  ## design scan: Pareto front of efficiency vs LUT, chosen.yml (~50 min; SCAN=<yml>, NAME=, NO_SYNTH=1, SCHEDULER=)
	$(WNAE) scan $(SCAN) $(if $(NAME),--name $(NAME)) $(if $(NO_SYNTH),--no-synth) $(if $(SCHEDULER),--scheduler $(SCHEDULER))

hlt-train: $(VENV)/.installed  ## train the default HLT encoder, an MLP over the PF candidates with a displacement target (HLT_CONFIG=wnae/configs/hlt_linformer.yml|hlt_deepsets.yml|hlt_pf_mlp.yml|hlt_l1_mlp.yml)
	$(WNAE) hlt train $(if $(HLT_CONFIG),--config $(HLT_CONFIG))

export-onnx: $(VENV)/.installed  ## HLT_RUN (encoder + GMM score) as one ONNX graph: exports/<run>-onnx/, checked against TensorFlow in ONNX Runtime and timed
	$(WNAE) export onnx $(HLT_RUN)

hlt-evaluate: $(VENV)/.installed  ## two-level trigger: the latest L1 run's Medium seed (or L1_RUN=) + HLT_RUN at 1 kHz, cutting on the rarer of the L1 and HLT scores (HLT_SCORE=encoder: the HLT score alone; HLT_DATA=data_rate_tail: rates on enough zero bias)
	$(WNAE) hlt evaluate $(HLT_RUN) $(if $(L1_RUN),--l1-run $(L1_RUN)) $(if $(HLT_SCORE),--hlt-score $(HLT_SCORE)) $(if $(HLT_DATA),--data-dir $(HLT_DATA))

hlt-compare: $(VENV)/.installed  ## PF MLP (default) vs Linformer vs DeepSets vs L1-object MLP, 3 seeds each, behind the same seed (~50 min; L1_RUN=, HLT_SCORE=encoder, HLT_DATA=)
	$(WNAE) hlt compare $(if $(L1_RUN),--l1-run $(L1_RUN)) $(if $(HLT_SCORE),--hlt-score $(HLT_SCORE)) $(if $(HLT_DATA),--data-dir $(HLT_DATA))

clean:  ## remove generated data, runs, scans, comparisons and HLS projects (keeps .venv)
	find data -mindepth 1 ! -name README.md -exec rm -rf {} +
	find hls_projects -mindepth 1 ! -name README.md -exec rm -rf {} +
	rm -rf runs scans hlt_runs compare exports .pytest_cache
	find . -name __pycache__ -not -path './$(VENV)/*' -exec rm -rf {} +

COMPARE     ?=
compare: $(VENV)/.installed  ## WNAE vs VICReg-VAE over 5 seeds each: efficiency, AUC vs SM/ZB, reconstruction EMD, mean +- std (COMPARE=<yml>)
	$(WNAE) compare $(if $(COMPARE),--config $(COMPARE))

.PHONY: wheel-check
wheel-check: $(VENV)/.installed  ## build the wheel, install it into a fresh venv outside the checkout, run `wnae convert --help` and a target lookup from it
	@set -eu; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PY) -m pip wheel --quiet --no-deps --wheel-dir "$$tmp/dist" . ; \
	$(PYTHON_BASE) -m venv --without-pip "$$tmp/venv"; \
	$(PY) -m pip --python "$$tmp/venv/bin/python" install --quiet --no-deps "$$tmp"/dist/wnae-*.whl; \
	deps=$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'); \
	site=$$("$$tmp/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'); \
	echo "$$deps" > "$$site/_wnae_check_dependencies.pth"; \
	cd "$$tmp"; \
	"$$tmp/venv/bin/wnae" convert --help > /dev/null; \
	"$$tmp/venv/bin/python" -c 'import pathlib, sys, wnae; \
	from wnae.firmware.config import PACKAGED_TARGET_DIR, find_target, resolve_target; \
	module = pathlib.Path(wnae.__file__).resolve(); \
	assert pathlib.Path(sys.argv[1]).resolve() in module.parents, f"wnae imported from {module}, not the wheel"; \
	target = find_target("gt_run3"); \
	assert target is not None and target.parent.resolve() == PACKAGED_TARGET_DIR.resolve(), target; \
	print(f"wheel OK: {module.parent}; gt_run3 = {target} ({resolve_target(target.stem).part})")' "$$tmp"
