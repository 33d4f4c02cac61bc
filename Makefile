# Every target creates and uses the project virtual environment in .venv on its own.
# Variables (all optional):
#   METALS="La,Y,Ca"  H_PER_METAL="2,4,6,10"  PRESSURES="50,100,150"  FORMULAS="LaH10,CaH6"
#   OUT=reports/ranking.csv  PLOT=reports/prior_by_metal.png
#   TOP=5 CALC=chgnet          (tier 2: how many top candidates, which calculator)
#   SCREENING_CACHE_DIR (default .cache/ in the repository; models and the result database)

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
OUT    ?= reports/ranking.csv
PLOT   ?= reports/prior_by_metal.png
TOP    ?= 5
CALC   ?= chgnet
export SCREENING_CACHE_DIR ?= $(CURDIR)/.cache

SCREEN_ARGS = --out "$(OUT)" --plot "$(PLOT)" \
	$(if $(METALS),--metals "$(METALS)") \
	$(if $(H_PER_METAL),--h-per-metal "$(H_PER_METAL)") \
	$(if $(PRESSURES),--pressures "$(PRESSURES)") \
	$(if $(FORMULAS),--formulas "$(FORMULAS)")

.PHONY: help install screen test finetune bench validate validate-score score engine engine-demo prior-cv validate-enthalpy proxies melting setup-dft compare-dft columns report setup-browser clean

help:
	@echo "make screen     install (first time) and run the default tier-1 screen -> $(OUT), $(PLOT)"
	@echo "make test       install (first time) and run the test suite"
	@echo "make finetune   fine-tune CHGNet 0.3.0 on data/dft/*.extxyz -> models/chgnet_hydride/ (EPOCHS, HOLDOUT=Y)"
	@echo "make bench      featurize+rank timing and the ratio against stock matminer"
	@echo "make proxies    tier 2a pressure-enthalpy proxies for the top TOP=$(TOP) candidates (CALC=$(CALC)), merged into $(OUT)"
	@echo "make melting    tier 2b melting temperature for the top TOP candidates (CALC, STRUCTURES=dir of CIF/POSCAR)"
	@echo "make validate   leave-one-metal-out: prior recall + score/window vs experiment (DATA=other.csv) -> reports/validation.*"
	@echo "make validate-enthalpy  enthalpy-tier physics checks against reference values (slow: CHGNet)"
	@echo "make engine     tier 3 for the top TOP=1 candidates: trained POD potential + interface MD on dask (SCHEDULER=addr, POTENTIAL=dir, LABELS=gpaw)"
	@echo "make engine-demo  tier 3 on the seed system: Ca-H potential, errors vs GPAW, CaH2/H2 at 40 GPa, 1473 K and 300 K"
	@echo "make score      recompute window + synthesizability score of $(OUT) (after proxies/melting; WEIGHTS='margin=1,prior=0.25')"
	@echo "make setup-dft  optional: install GPAW (apt libraries + pip build) for DFT references"
	@echo "make compare-dft CHGNet vs GPAW (PBE) pressures and formation energies for Ca-, La-, Y-H (after setup-dft)"
	@echo "make columns    print the documented descriptor columns"
	@echo "make report     self-contained offline HTML report of $(OUT) and the figures in reports/ -> reports/report.html"
	@echo "make setup-browser optional: install Debian's chromium (headless rendering check of the report in the tests)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

install: $(STAMP)

screen: $(STAMP)
	$(PY) -m screening screen $(SCREEN_ARGS)

test: $(STAMP)
	$(PY) -m pytest -q

finetune: $(STAMP)
	$(PY) -m screening.reference.finetune --data data/dft --out models/chgnet_hydride \
		$(if $(EPOCHS),--epochs $(EPOCHS)) $(if $(HOLDOUT),--holdout-metals "$(HOLDOUT)")

bench: $(STAMP)
	$(PY) benchmarks/bench_tier1.py
	$(PY) benchmarks/bench_enthalpy.py $(CALC)
	$(PY) benchmarks/bench_melting.py
	$(PY) benchmarks/bench_engine.py

proxies: $(STAMP)
	$(PY) -m screening proxies --top $(TOP) --calculator "$(CALC)" --ranking "$(OUT)"

melting: $(STAMP)
	$(PY) -m screening.proxies.melting --top $(TOP) --ranking "$(OUT)" --calculator "$(CALC)" --out "$(OUT)" \
		$(if $(STRUCTURES),--structures "$(STRUCTURES)")

validate: prior-cv validate-score

validate-score: $(STAMP)
	$(PY) -m screening validate --out-dir reports $(if $(DATA),--data "$(DATA)")

engine: $(STAMP)
	$(PY) -m screening engine --top $(if $(filter command line,$(origin TOP)),$(TOP),1) --ranking "$(OUT)" \
		$(if $(SCHEDULER),--scheduler "$(SCHEDULER)") $(if $(POTENTIAL),--potential "$(POTENTIAL)") \
		$(if $(LABELS),--label-calculator "$(LABELS)")

engine-demo: $(STAMP)
	$(PY) benchmarks/engine_ca_h.py

score: $(STAMP)
	$(PY) -m screening score --ranking "$(OUT)" $(if $(WEIGHTS),--weights "$(WEIGHTS)")

validate-enthalpy: $(STAMP)
	$(PY) benchmarks/validate_enthalpy.py $(CALC)

compare-dft: $(STAMP)
	$(PY) benchmarks/compare_dft.py

setup-dft: $(STAMP)
	apt-get update && apt-get install -y libxc-dev libopenblas-dev libfftw3-dev
	CC=g++ $(PY) -m pip install gpaw gpaw-data

prior-cv: $(STAMP)
	$(PY) -m screening prior-cv --out reports/prior_lomo.csv

columns: $(STAMP)
	@$(PY) -m screening columns

report: $(STAMP)
	$(PY) -m screening.report --ranking "$(OUT)" --out reports/report.html

setup-browser:
	apt-get update && apt-get install -y chromium

clean:
	rm -rf $(VENV) .cache reports .pytest_cache *.egg-info
