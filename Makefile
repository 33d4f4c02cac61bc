# Every target creates and uses the project virtual environment in .venv on its own.
# Variables (all optional):
#   METALS="La,Y,Ca"  H_PER_METAL="2,4,6,10"  PRESSURES="50,100,150"  FORMULAS="LaH10,CaH6"
#   OUT=reports/ranking.csv  PLOT=reports/prior_by_metal.png
#   TOP=5 CALC=chgnet-hydride        (tier 2: how many top candidates, which calculator)
#   REFINE=gpaw                (tier 2a: DFT single points of the phases on the hull, beside the relaxation's numbers)
#   SCREENING_CACHE_DIR (default .cache/ in the repository, as for the CLI and API run from this checkout;
#                        models and the result database)

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
OUT    ?= reports/ranking.csv
PLOT   ?= reports/prior_by_metal.png
TOP    ?= 5
CALC   ?= chgnet-hydride
# families a default fine-tune repeats in every epoch (make finetune; a comma inside $(or ...) would split it)
DEFAULT_OVERSAMPLE := phase_relaxed=4,phase_eos=4
# make finetune-all-phases: only the Ca-H phases x4 (per-metal weights), every other system's phases once
ALL_PHASES_OVERSAMPLE := phase_relaxed@Ca=4,phase_eos@Ca=4
export SCREENING_CACHE_DIR ?= $(CURDIR)/.cache

SCREEN_ARGS = --out "$(OUT)" --plot "$(PLOT)" \
	$(if $(METALS),--metals "$(METALS)") \
	$(if $(H_PER_METAL),--h-per-metal "$(H_PER_METAL)") \
	$(if $(PRESSURES),--pressures "$(PRESSURES)") \
	$(if $(FORMULAS),--formulas "$(FORMULAS)")

.PHONY: engine-nn-snap bench-dft dft-convergence label-convergence engine-labels phase-labels phase-reactions engine-fit engine-teacher engine-distill engine-active engine-melting engine-capacity engine-snap dft-data help install screen test finetune finetune-engine finetune-phases finetune-all-phases bench validate tier2a validate-score score engine engine-demo prior-cv validate-enthalpy proxies melting setup-dft compare-dft columns report setup-browser clean

help:
	@echo "make install    create .venv and install the package with its test extras (every target does this first)"
	@echo "make screen     tier 1: rank the candidate grid -> $(OUT), $(PLOT) (METALS, H_PER_METAL, PRESSURES, FORMULAS)"
	@echo "make proxies    tier 2a: pressure-enthalpy proxies for the top TOP=$(TOP) candidates (CALC=$(CALC), REFINE=gpaw), merged into $(OUT);"
	@echo "                plots and the relaxed hull structures (CIF, extxyz) in reports/"
	@echo "make melting    tier 2b: melting temperature for the top TOP candidates (CALC, STRUCTURES=dir of CIF/POSCAR), merged into $(OUT)"
	@echo "make finetune   the default calculator: CHGNet 0.3.0 fine-tuned on data/dft plus the engine's GPAW labels, reaction phases x4 -> models/chgnet_hydride/ (EPOCHS=14, HOLDOUT=Sr,Sc,Ce: metals never seen, KEEP, OVERSAMPLE=family=n or family@metal=n,...)"
	@echo "make finetune-phases  the same recipe plus the La-H/Y-H reaction-phase labels of data/dft_phases (a comparison model) -> models/chgnet_hydride_phases/"
	@echo "make finetune-all-phases  the same recipe plus every reaction-phase label of data/dft_phases (nine systems; Ca-H phases x4, the others x1) -> models/chgnet_hydride_all_phases/ (a candidate default)"
	@echo "make finetune-engine  the same data without the oversampling (the previous comparison model) -> models/chgnet_hydride_engine/ (EPOCHS=14, OUT_MODEL=<dir>)"
	@echo "make engine     tier 3 for the top TOP=1 candidates: trained POD potential + interface MD on dask (SCHEDULER=addr, POTENTIAL=dir, LABELS=gpaw, CHECKPOINT_PS=2: resumable)"
	@echo "make engine-demo  tier 3 on the seed system: Ca-H potential, errors vs GPAW, CaH2/H2 at 40 GPa, 1473 K and 300 K"
	@echo "make score      recompute window + synthesizability score of $(OUT) (after proxies/melting; WEIGHTS='margin=1,prior=0.25')"
	@echo "make report     self-contained offline HTML report of $(OUT) and the figures in reports/ -> reports/report.html"
	@echo "make validate   prior-cv, tier2a and validate-score below (DATA=other.csv)"
	@echo "make tier2a     tier-2a physics for every metal of the experimental table (DATA, TIER2A_PRESSURES, TIER2A_TEMPLATES, TIER2A_MAX_ATOMS); cached"
	@echo "make prior-cv   leave-one-metal-out recall of the tier-1 prior over 3 seeds -> reports/prior_lomo.csv"
	@echo "make validate-score  score and synthesis window vs experiment, leave-one-metal-out -> reports/validation.*"
	@echo "make validate-enthalpy  enthalpy-tier physics checks against reference values (slow: CHGNet)"
	@echo "make compare-dft CHGNet vs GPAW (PBE) pressures and formation energies for Ca-, La-, Y-H (after setup-dft)"
	@echo "make dft-convergence  GPAW cutoff / k-point convergence (CaH4 40 GPa, LaH10 150 GPa) -> data/dft/convergence.csv"
	@echo "make dft-data   hydride DFT dataset, GPAW labels on dask, resumable (METALS, MAX_LABELS, SCHEDULER) -> data/dft/"
	@echo "make engine-fit  POD fit to the committed labels: settings by grouped CV, errors by set/family, learning curve (METAL=Ca)"
	@echo "make engine-teacher  chgnet-hydride fine-tuned on the committed labels of one M-H system -> models/chgnet_hydride_<m> (METAL=Ca)"
	@echo "make engine-distill  the teacher labels the pool at 20-60 GPa, POD fitted to them, errors vs the GPAW hold-out (METAL=Ca)"
	@echo "make engine-melting  T_m(P) of MH2 and MH4 at 20/40/60 GPa on the distilled potential (METAL, MERGE=ranking.csv)"
	@echo "make engine-active   active learning of the distilled POD: its MD frames where it departs from the teacher (METAL, ROUNDS)"
	@echo "make engine-snap     SNAP fitted to the engine's labels, against the engine's POD: CV, GPAW hold-out, speed (METAL=Ca)"
	@echo "make engine-nn-snap  ML-IAP network on SNAP descriptors fitted to the engine's labels, GPAW hold-out (METAL=Ca TWOJMAX=4, SEED=0)"
	@echo "make engine-capacity  POD fitted to the whole pool labelled by a cheap teacher: can the fit form reach the targets? (METAL=Ca)"
	@echo "make phase-labels  GPAW labels of the relaxed reaction phases of chosen systems -> data/dft_phases (METALS=La,Y, PRESSURES=120,160,190, H_PER_METAL=3,4,6,9,10)"
	@echo "make phase-reactions  reaction enthalpies of the labelled phases: CALC (default chgnet-hydride) vs GPAW at the same cells -> reports/phase_reactions.csv"
	@echo "make engine-labels  GPAW training labels of the engine's M-H pool -> data/engine/<M>-H (METAL=Ca, N_TRAIN, MAX_LABELS; LABELS_OUT=<dir> for another folder)"
	@echo "make label-convergence  k-point convergence of DFT labels of hot/slab/fluid training cells (METAL=Ca, PRESSURE=40)"
	@echo "make bench-dft  DFT labels per hour: two single-threaded GPAW workers vs one worker with two BLAS threads"
	@echo "make test       run the test suite"
	@echo "make bench      speed of every tier: tier-1 featurize+rank vs stock matminer, tier-2a relaxations (CALC) and"
	@echo "                store speedup, tier-2b Cu melting check + LAMMPS vs CHGNet MD speed, tier-3 POD vs CHGNet atom-steps/s"
	@echo "make columns    print the documented descriptor columns"
	@echo "make setup-dft  optional: install GPAW (apt libraries + pip build) for DFT references"
	@echo "make setup-browser optional: install Debian's chromium (headless rendering check of the report in the tests)"
	@echo "make clean      remove .venv, .cache (models, result store) and reports/"
	@echo "make help       this list"

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

# The default calculator chgnet-hydride: CHGNet 0.3.0 fine-tuned on data/dft plus every engine system's GPAW training
# labels, the relaxed reaction phases (phase_relaxed, phase_eos) 4 times per epoch; 14 epochs, the best val epoch.
# ~4.8 min per epoch on one thread (2026-11-28), ~75 min in all; resumable.
finetune: $(STAMP)
	$(PY) -m screening.reference.finetune --with-engine-labels --out models/chgnet_hydride --epochs $(or $(EPOCHS),14) \
		--keep $(or $(KEEP),best_val_energy) --threads 1 --oversample "$(or $(OVERSAMPLE),$(DEFAULT_OVERSAMPLE))" \
		$(if $(HOLDOUT),--holdout-metals "$(HOLDOUT)")

# The same recipe with the La-H and Y-H reaction-phase labels of data/dft_phases (make phase-labels) as well (those
# two files only: the folder now holds more metals; data hash 6966acd6ede2 as shipped): a comparison model,
# chgnet-hydride:models/chgnet_hydride_phases (~7.3 min per epoch on one thread, ~105 min in all; README: better
# La-H/Y-H reactions and seen-metal errors, worse on unseen metals and on solid H2 at 150 GPa).
finetune-phases: $(STAMP)
	$(PY) -m screening.reference.finetune --data data/dft --data data/dft_phases/La.extxyz --data data/dft_phases/Y.extxyz --with-engine-labels \
		--out $(or $(OUT_MODEL),models/chgnet_hydride_phases) --epochs $(or $(EPOCHS),14) --keep best_val_energy --threads 1 \
		--oversample "$(or $(OVERSAMPLE),$(DEFAULT_OVERSAMPLE))"

# The default's recipe plus every reaction-phase label of data/dft_phases (nine systems), the Ca-H phases x4 and the
# others x1 (a per-metal weight): a candidate default, chgnet-hydride:models/chgnet_hydride_all_phases (~900 frames
# per epoch, ~7 min per epoch on one thread, ~100 min; resumable from <cache>/finetune).
finetune-all-phases: $(STAMP)
	$(PY) -m screening.reference.finetune --data data/dft --data data/dft_phases --with-engine-labels \
		--out $(or $(OUT_MODEL),models/chgnet_hydride_all_phases) --epochs $(or $(EPOCHS),14) --keep best_val_energy --threads 1 \
		--oversample "$(or $(OVERSAMPLE),$(ALL_PHASES_OVERSAMPLE))"

# The general fine-tune with every tier-3 system's GPAW training labels as well (data/dft + data/engine/<M>-H/
# train_gpaw.extxyz; the engine hold-outs stay unseen and are measured): chgnet-hydride:models/chgnet_hydride_engine.
# ~5.5 min per epoch on one thread (2026-11-27), ~85 min in all.
finetune-engine: $(STAMP)
	$(PY) -m screening.reference.finetune --with-engine-labels --out $(or $(OUT_MODEL),models/chgnet_hydride_engine) --epochs $(or $(EPOCHS),14) \
		--keep best_val_energy --threads 1 $(if $(HOLDOUT),--holdout-metals "$(HOLDOUT)") \
		$(if $(OVERSAMPLE),--oversample "$(OVERSAMPLE)")

bench: $(STAMP)
	$(PY) benchmarks/bench_tier1.py
	$(PY) benchmarks/bench_enthalpy.py $(CALC)
	$(PY) benchmarks/bench_melting.py
	$(PY) benchmarks/bench_engine.py

proxies: $(STAMP)
	$(PY) -m screening proxies --top $(TOP) --calculator "$(CALC)" --ranking "$(OUT)" $(if $(REFINE),--refine "$(REFINE)")

melting: $(STAMP)
	$(PY) -m screening melting --top $(TOP) --ranking "$(OUT)" --calculator "$(CALC)" --out "$(OUT)" \
		$(if $(STRUCTURES),--structures "$(STRUCTURES)")

validate: prior-cv tier2a validate-score

# Tier-2a physics (default calculator) for every metal of the experimental table (DATA=other.csv), cached and
# resumable; knobs TIER2A_PRESSURES="100,150" TIER2A_TEMPLATES="fluorite,sodalite" TIER2A_MAX_ATOMS=12.
# Without TIER2A_MAX_ATOMS the cell-size limit is screening.tier2a_table.DEFAULT_TIER2A_MAX_ATOMS (12), the setting
# of the committed data/tier2a tables, so a fresh machine reads them back instead of recomputing.
tier2a: $(STAMP)
	$(PY) -m screening.tier2a_table $(if $(DATA),--data "$(DATA)") \
		$(if $(TIER2A_PRESSURES),--pressures "$(TIER2A_PRESSURES)") $(if $(TIER2A_TEMPLATES),--templates "$(TIER2A_TEMPLATES)") \
		$(if $(TIER2A_MAX_ATOMS),--max-atoms $(TIER2A_MAX_ATOMS))

validate-score: $(STAMP)
	$(PY) -m screening validate --reports reports $(if $(DATA),--data "$(DATA)") \
		$(if $(TIER2A_PRESSURES),--tier2a-pressures "$(TIER2A_PRESSURES)") \
		$(if $(TIER2A_TEMPLATES),--tier2a-templates "$(TIER2A_TEMPLATES)") \
		$(if $(TIER2A_MAX_ATOMS),--tier2a-max-atoms $(TIER2A_MAX_ATOMS))

engine: $(STAMP)
	$(PY) -m screening engine --top $(if $(filter command line,$(origin TOP)),$(TOP),1) --ranking "$(OUT)" \
		$(if $(SCHEDULER),--scheduler "$(SCHEDULER)") $(if $(POTENTIAL),--potential "$(POTENTIAL)") \
		$(if $(LABELS),--label-calculator "$(LABELS)") $(if $(CHECKPOINT_PS),--checkpoint-ps $(CHECKPOINT_PS))

# The engine's GPAW training labels of one M-H system, committed under data/engine/<M>-H (resumable; N_TRAIN=200).
engine-labels: $(STAMP)
	$(PY) -m screening.engine.dft_labels --metal $(or $(METAL),Ca) $(if $(N_TRAIN),--n-train $(N_TRAIN)) \
		$(if $(LABELS_OUT),--out $(LABELS_OUT)) \
		$(if $(SCHEDULER),--scheduler "$(SCHEDULER)") $(if $(MAX_LABELS),--max-labels $(MAX_LABELS))

# GPAW labels of the relaxed reaction phases (hull and reaction phases as tier 2a relaxes them with the default, plus
# EOS copies) of chosen systems -> data/dft_phases/<M>.extxyz (resumable); make finetune-phases trains on them.
phase-labels: $(STAMP)
	$(PY) -m screening.reference.phase_labels $(if $(METALS),--metals "$(METALS)") $(if $(PRESSURES),--pressures "$(PRESSURES)") \
		$(if $(H_PER_METAL),--h-per-metal "$(H_PER_METAL)") $(if $(SCHEDULER),--scheduler "$(SCHEDULER)") \
		$(if $(MAX_LABELS),--max-labels $(MAX_LABELS))

# ΔH_r of the labelled reaction phases (data/dft_phases) with the relaxing model and with GPAW at the same cells
# (single point and a volume scan through the EOS copies); nothing is relabelled (~1 min).
phase-reactions: $(STAMP)
	$(PY) -m screening.reference.phase_reactions $(CALC)

# The engine's POD fit to the committed labels of one M-H system: basis and weights by grouped cross-validation on
# the training labels, then the errors by set and family and against the number of labels
# (data/engine/<M>-H/pod_selection.csv, fit_errors.csv, learning_curve.csv).
engine-fit: $(STAMP)
	$(PY) -m screening.engine.pod_selection --metal $(or $(METAL),Ca)
	$(PY) -m screening.engine.fit_report --metal $(or $(METAL),Ca)
	$(PY) -m screening.engine.learning_curve --metal $(or $(METAL),Ca)

# The engine's system-specific teacher: models/chgnet_hydride (chgnet-hydride) fine-tuned on the committed DFT training
# labels of one M-H system, measured on their hold-out set -> models/chgnet_hydride_<m> (METAL=Ca, EPOCHS).
engine-teacher: $(STAMP)
	$(PY) -m screening.engine.teacher --metal $(or $(METAL),Ca) $(if $(EPOCHS),--epochs $(EPOCHS))

# The distilled route: the system's teacher (make engine-teacher) labels the whole labelling pool at 20-60 GPa, POD
# settings by grouped cross-validation on those labels, errors against the GPAW hold-out
# (data/engine/<M>-H/distilled_*; make engine LABELS=distilled fits from them). METAL=Ca, TEACHER=<spec>.
engine-distill: $(STAMP)
	$(PY) -m screening.engine.distilled --metal $(or $(METAL),Ca) $(if $(TEACHER),--teacher "$(TEACHER)") $(if $(SKIP_LABELS),--skip-labels)

# Active learning of the distilled potential: POD runs the engine's states (dense H2, interface, bulk hydrides at
# 1473/2500 K), the teacher labels the frames where they disagree -> data/engine/<M>-H/distilled_active.extxyz
# (ROUNDS in total, resumable), then the POD settings are re-selected by CV and the distilled fit redone.
engine-active: $(STAMP)
	$(PY) -m screening.engine.active_learning --metal $(or $(METAL),Ca) --rounds $(or $(ROUNDS),6)
	$(PY) -m screening.engine.distilled --metal $(or $(METAL),Ca) --skip-labels

# T_m(P) of the system's precursor and product hydrides (MH2, MH4 at 20/40/60 GPa) with the melting tier on the
# engine's distilled potential -> data/engine/<M>-H/melting.csv; MERGE=reports/ranking.csv puts them into its rows.
engine-melting: $(STAMP)
	$(PY) -m screening.engine.hydride_melting --metal $(or $(METAL),Ca) $(if $(POTENTIAL),--potential "$(POTENTIAL)") \
		$(if $(MERGE),--merge "$(MERGE)")

# Can POD represent the M-H surface? POD candidates fitted to the whole labelling pool labelled by a cheap teacher,
# errors against the teacher and the GPAW hold-out -> reports/engine_fit_capacity_<M>.csv (METAL=Ca, TEACHER).
engine-capacity: $(STAMP)
	$(PY) -m screening.engine.fit_capacity --metal $(or $(METAL),Ca) $(if $(TEACHER),--teacher "$(TEACHER)")

engine-snap: $(STAMP)
	$(PY) -m screening.engine.snap --metal $(or $(METAL),Ca)

# ML-IAP network on SNAP descriptors, fitted to the engine's distilled labels; GPAW hold-out errors in OUT (~3 min)
engine-nn-snap: $(STAMP)
	$(PY) -m screening.engine.nn_snap --metal $(or $(METAL),Ca) --twojmax $(or $(TWOJMAX),4) --seed $(or $(SEED),0) \
		--out $(or $(NN_OUT),.cache/nn_snap/$(or $(METAL),Ca)-2j$(or $(TWOJMAX),4)-seed$(or $(SEED),0))

engine-demo: $(STAMP)
	$(PY) benchmarks/engine_ca_h.py $(if $(LABELS),--labels "$(LABELS)") $(if $(TIME_PS),--time-ps $(TIME_PS)) \
		$(if $(POTENTIAL),--potential "$(POTENTIAL)") $(if $(CHECKPOINT_PS),--checkpoint-ps $(CHECKPOINT_PS))

score: $(STAMP)
	$(PY) -m screening score --ranking "$(OUT)" $(if $(WEIGHTS),--weights "$(WEIGHTS)")

validate-enthalpy: $(STAMP)
	$(PY) benchmarks/validate_enthalpy.py $(CALC)

compare-dft: $(STAMP)
	$(PY) benchmarks/compare_dft.py

dft-convergence: $(STAMP)
	$(PY) -m screening.reference.convergence --out data/dft/convergence.csv

bench-dft: $(STAMP)
	$(PY) benchmarks/bench_dft_labelling.py

dft-data: $(STAMP)
	$(PY) -m screening.reference.dataset --out data/dft $(if $(METALS),--metals "$(METALS)") \
		$(if $(MAX_LABELS),--max-labels $(MAX_LABELS)) $(if $(SCHEDULER),--scheduler "$(SCHEDULER)")

label-convergence: $(STAMP)
	$(PY) -m screening.reference.label_convergence --metal $(or $(METAL),Ca) --pressure $(or $(PRESSURE),40)

setup-dft: $(STAMP)
	apt-get update && apt-get install -y libxc-dev libopenblas-dev libfftw3-dev
	CC=g++ $(PY) -m pip install gpaw gpaw-data

prior-cv: $(STAMP)
	$(PY) -m screening prior-cv --out reports/prior_lomo.csv

columns: $(STAMP)
	@$(PY) -m screening columns

report: $(STAMP)
	$(PY) -m screening report --ranking "$(OUT)" --out reports/report.html

setup-browser:
	apt-get update && apt-get install -y chromium

clean:
	rm -rf $(VENV) .cache reports .pytest_cache *.egg-info
