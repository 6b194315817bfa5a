# Two commands for a newcomer: `make tutorial` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.dev-installed
DATA := test-data
OUT := out/tutorial
PYTEST_ARGS ?=
SOURCES := $(shell find src -name '*.py')

# The tutorial's recipes below read exactly as a user types them.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: tutorial gtn gtn-fnn gtn-rnn gtn-cnn test lint tool-test slurm-test network-test bench tool-test-data clean clean-tutorial galaxy-test galaxy-slurm-test galaxy-deps
.DELETE_ON_ERROR:

# uv installs the same releases as pip from the same index in a fraction of the time (the test extras: 126 s with
# pip; under a minute with uv, the venv included, empty caches): a fifth of `make test` was pip.
# --compile-bytecode as pip does: where PYTHONDONTWRITEBYTECODE is set (this machine, CI) nothing else would, and
# every process that imports Keras would compile TensorFlow again (16 s instead of 7 s).
UV_INSTALL = $(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(BIN)/uv: | $(BIN)/python
	$(BIN)/python -m pip install -q uv

# Our own modules too: an editable install leaves them as source, compiled again by every program run (0.1 s).
$(RUNTIME): pyproject.toml | $(BIN)/uv
	$(UV_INSTALL) -e .
	$(BIN)/python -m compileall -q src
	touch $@

$(DEV): pyproject.toml $(RUNTIME)
	$(UV_INSTALL) -e '.[dev,jax]'
	touch $@

## The "Introduction to deep learning" tutorial, one file target per step.
tutorial: $(OUT)/cm.png $(OUT)/report.html $(OUT)/report.pdf
	@echo
	@echo "== Scores (train and validation holdout): $(OUT)/scores.tsv"
	@cat $(OUT)/scores.tsv
	@echo "== Test set ($(OUT)/predictions.tsv vs $(DATA)/y_test.tsv): $(OUT)/cm.png"
	@cat $(OUT)/cm-summary.txt
	@echo "== Training report: $(OUT)/report.html and $(OUT)/report.pdf"

$(OUT):
	mkdir -p $@

# The programs' own code is an input too: after an edit, `make tutorial` runs the tutorial again with it.
$(OUT)/arch.json: $(RUNTIME) $(SOURCES) | $(OUT)
	build-arch --input-shape 7129 --layer 'Dense(16, activation="elu")' --layer 'Dense(16, activation="elu")' \
	           --layer 'Dense(1, activation="sigmoid")' -o $@

$(OUT)/model.zip: $(OUT)/arch.json
	build-model --arch $< --task classification --loss binary_crossentropy --optimizer rmsprop \
	            --epochs 10 --batch-size 4 --seed 42 -o $@

$(OUT)/scores.tsv $(OUT)/fitted.zip $(OUT)/weights.h5 $(OUT)/report.html $(OUT)/report.pdf &: $(OUT)/model.zip $(DATA)/X_train.tsv $(DATA)/y_train.tsv
	train-eval --model $(OUT)/model.zip --x $(DATA)/X_train.tsv --y $(DATA)/y_train.tsv \
	           --scores $(OUT)/scores.tsv --fitted-model $(OUT)/fitted.zip --weights $(OUT)/weights.h5 \
	           --report $(OUT)/report.html --report $(OUT)/report.pdf

$(OUT)/predictions.tsv: $(OUT)/fitted.zip $(OUT)/weights.h5 $(DATA)/X_test.tsv
	predict --model $(OUT)/fitted.zip --weights $(OUT)/weights.h5 --x $(DATA)/X_test.tsv -o $@

$(OUT)/cm.png $(OUT)/cm-summary.txt &: $(OUT)/predictions.tsv $(DATA)/y_test.tsv
	plot-cm --y-true $(DATA)/y_test.tsv --y-pred $(OUT)/predictions.tsv -o $(OUT)/cm.png 2> $(OUT)/cm-summary.tmp \
	  || { cat $(OUT)/cm-summary.tmp; rm -f $(OUT)/cm-summary.tmp; exit 1; }
	mv $(OUT)/cm-summary.tmp $(OUT)/cm-summary.txt

## The GTN deep-learning series (FNN, RNN, CNN) as the tutorials write them, on the small stand-ins in test-data/;
## GTN_DATA=DIR runs them on the full-size files of test-data/make_gtn_data.py (README "The GTN deep-learning series").
GTN_DATA ?= $(DATA)
GTN_OUT ?= out/gtn

gtn: gtn-fnn gtn-rnn gtn-cnn

# RNN and CNN from the estimator on: header-less tables, train, predict the test rows, confusion matrix and metrics.
define gtn_classify
train-eval --model $(GTN_OUT)/$(1)_model.zip --x $(GTN_DATA)/$(1)_X_train.tsv --x-no-header \
	           --y $(GTN_DATA)/$(2) --y-no-header --scores $(GTN_OUT)/$(1)_scores.tsv --fitted-model $(GTN_OUT)/$(1)_fitted.zip
	predict --model $(GTN_OUT)/$(1)_fitted.zip --x $(GTN_DATA)/$(1)_X_test.tsv --x-no-header -o $(GTN_OUT)/$(1)_predictions.tsv
	plot-cm --y-true $(GTN_DATA)/$(1)_y_test.tsv --y-true-no-header --y-pred $(GTN_OUT)/$(1)_predictions.tsv \
	        -o $(GTN_OUT)/$(1)_cm.png --metrics-out $(GTN_OUT)/$(1)_metrics.tsv
endef

gtn-fnn: $(RUNTIME)
	@mkdir -p $(GTN_OUT)
	build-arch --input-shape '(5, )' --layer 'Dense(12, activation="relu")' --layer 'Dense(8, activation="relu")' \
	           --layer 'Dense(1, activation="linear")' --quiet -o $(GTN_OUT)/fnn_arch.json
	build-model --arch $(GTN_OUT)/fnn_arch.json --task regression --loss mse --optimizer adam \
	            --epochs 150 --batch-size 50 --seed 0 --verbose 0 -o $(GTN_OUT)/fnn_model.zip
	train-eval --model $(GTN_OUT)/fnn_model.zip --x $(GTN_DATA)/fnn_X_train.tsv --y $(GTN_DATA)/fnn_y_train.tsv \
	           --scores $(GTN_OUT)/fnn_scores.tsv --fitted-model $(GTN_OUT)/fnn_fitted.zip
	predict --model $(GTN_OUT)/fnn_fitted.zip --x $(GTN_DATA)/fnn_X_test.tsv -o $(GTN_OUT)/fnn_predictions.tsv
	plot-reg --y-true $(GTN_DATA)/fnn_y_test.tsv --y-pred $(GTN_OUT)/fnn_predictions.tsv \
	         -o $(GTN_OUT)/fnn_regression.png --metrics-out $(GTN_OUT)/fnn_metrics.tsv

gtn-rnn: $(RUNTIME)
	@mkdir -p $(GTN_OUT)
	build-arch --input-shape '(500,)' --layer 'Embedding(10000, 32)' --layer 'LSTM(100)' \
	           --layer 'Dense(1, activation="sigmoid")' --quiet -o $(GTN_OUT)/rnn_arch.json
	build-model --arch $(GTN_OUT)/rnn_arch.json --loss binary_crossentropy --optimizer adam --metrics accuracy \
	            --epochs 2 --batch-size 128 --seed 0 --verbose 0 -o $(GTN_OUT)/rnn_model.zip
	$(call gtn_classify,rnn,rnn_y_train.tsv)

gtn-cnn: $(RUNTIME)
	@mkdir -p $(GTN_OUT)
	build-arch --input-shape '(784, )' --layer 'Reshape((28,28,1))' --layer 'Conv2D(64, 3, activation="relu")' \
	           --layer 'MaxPooling2D((2, 2))' --layer 'Conv2D(32, 3, activation="relu")' --layer 'MaxPooling2D((2, 2))' \
	           --layer 'Flatten()' --layer 'Dense(10, activation="softmax")' --quiet -o $(GTN_OUT)/cnn_arch.json
	build-model --arch $(GTN_OUT)/cnn_arch.json --loss categorical_crossentropy --optimizer adam --metrics accuracy \
	            --epochs 10 --batch-size 500 --validation-split 0.1 --seed 0 --verbose 0 -o $(GTN_OUT)/cnn_model.zip
	$(call gtn_classify,cnn,cnn_y_train_onehot.tsv)

## The wrappers' tool tests run in our harness with `make tool-test` (2 minutes) and in a real Galaxy with
## `make galaxy-test`; `make test` leaves them out to stay under 10 minutes (CI runs all three).
test: lint
	$(BIN)/python -m pytest -m "not tool_test and not slurm and not network" $(PYTEST_ARGS)

## The checks alone (seconds): lint and format, types, and the layering rule of docs/architecture.md.
lint: $(DEV)
	$(BIN)/ruff check src tests bench test-data
	$(BIN)/ruff format --check src tests bench test-data
	$(BIN)/mypy
	$(BIN)/lint-imports

tool-test: $(DEV)
	$(BIN)/python -m pytest -m tool_test tests/tool_xml $(PYTEST_ARGS)

## A real one-node Slurm on this machine (root: installs slurm-wlm and munge from Debian when missing, starts the
## daemons, stops them at the end): srun, sbatch, scancel and a failing task (cluster/slurm-test.sh, tests/cluster).
slurm-test: $(DEV)
	bash cluster/slurm-test.sh $(PYTEST_ARGS)

## Two hosts on a real network (root): network namespaces joined by a veth pair train as one process; a peer killed,
## frozen (SIGSTOP) or cut off (link down) ends every survivor with one line, exit 7 (tests/cluster/test_two_hosts.py).
network-test: $(DEV)
	$(BIN)/python -m pytest -p no:cacheprovider -n 0 -m network tests/cluster $(PYTEST_ARGS)

# make test installs the jax extra (--backend jax, several processes) so that the tests cover it; on
# TensorFlow, Keras is imported with jax hidden (runtime._without_jax), so start-up does not pay for it.
bench: $(DEV)
	$(BIN)/python bench/run.py

## A real Galaxy (from PyPI) and planemo in GALAXY_BASE, outside the checkout and reused when present;
## every tool test runs there with the requirement resolved through galaxy_packages (galaxy/test.sh).
GALAXY_BASE ?= /var/tmp/galaxy-dl-galaxy

galaxy-test:
	GALAXY_BASE=$(GALAXY_BASE) bash galaxy/test.sh

## Galaxy through Slurm (root): a real Galaxy whose job configuration (galaxy/job_conf.slurm.yml, the CLI runner's
## Slurm plugin) sends train_eval.xml's data-parallel test to a one-node Slurm with two tasks; two processes train.
galaxy-slurm-test:
	GALAXY_BASE=$(GALAXY_BASE) bash galaxy/slurm-test.sh

## galaxy-dl of this checkout in DEST/galaxy-dl/VERSION/{venv,env.sh}, for Galaxy's galaxy_packages resolver.
galaxy-deps:
	@test -n "$(DEST)" || { echo "usage: make galaxy-deps DEST=/path/to/galaxy/deps" >&2; exit 2; }
	DEST=$(DEST) bash galaxy/deps.sh

clean-tutorial:
	rm -rf $(OUT)

clean: clean-tutorial
	rm -rf $(VENV) out bench/work .pytest_cache .hypothesis

## Inputs of the Galaxy tool tests that other steps produce: regenerated from the tutorial.
tool-test-data: $(OUT)/cm.png
	cp $(OUT)/arch.json $(DATA)/tutorial_arch.json
	cp $(OUT)/model.zip $(DATA)/tutorial_model.zip
	cp $(OUT)/fitted.zip $(DATA)/tutorial_fitted.zip
	cp $(OUT)/weights.h5 $(DATA)/tutorial_weights.h5
	cp $(OUT)/predictions.tsv $(DATA)/tutorial_predictions.tsv
	plot-cm --y-true $(DATA)/y_test.tsv --y-pred $(OUT)/predictions.tsv --dpi 100 -o $(DATA)/tutorial_cm.png 2> /dev/null
	build-arch --input-shape 200,4 --layer 'Conv1D(16, 12, activation="relu")' --layer 'GlobalMaxPooling1D()' \
	           --layer 'Dense(3, activation="softmax")' -o $(OUT)/dna_cnn.json --quiet
	build-model --arch $(OUT)/dna_cnn.json --loss sparse_categorical_crossentropy --optimizer adam --metrics accuracy \
	            --epochs 5 --batch-size 32 --seed 0 --verbose 0 -o $(DATA)/dna_cnn_model.zip
	build-arch --input-shape 198 --layer 'Embedding(66, 8)' --layer 'LSTM(8)' --layer 'Dense(3, activation="softmax")' \
	           -o $(OUT)/dna_lstm.json --quiet
	build-model --arch $(OUT)/dna_lstm.json --loss sparse_categorical_crossentropy --optimizer adam --metrics accuracy \
	            --epochs 1 --batch-size 32 --seed 0 --verbose 0 -o $(DATA)/dna_lstm_model.zip
	train-eval --model $(DATA)/dna_cnn_model.zip --x $(DATA)/dna_train.fa --y $(DATA)/dna_train_labels.tsv \
	           --scores $(OUT)/dna_scores.tsv --fitted-model $(DATA)/dna_fitted.zip 2> /dev/null
	build-arch --input-shape 300,4 --layer 'Conv1D(8, 12, activation="relu")' --layer 'GlobalMaxPooling1D()' \
	           --layer 'Dense(1, activation="sigmoid")' -o $(OUT)/regions.json --quiet
	build-model --arch $(OUT)/regions.json --optimizer adam --epochs 3 --seed 0 --verbose 0 -o $(DATA)/regions_model.zip
	build-arch --input-shape 200,4 --layer 'Conv1D(8, 12, activation="relu")' --layer 'GlobalMaxPooling1D()' \
	           --layer 'Dense(3, activation="sigmoid")' -o $(OUT)/regions_multi.json --quiet
	build-model --arch $(OUT)/regions_multi.json --optimizer adam --epochs 2 --seed 0 --verbose 0 \
	            -o $(DATA)/regions_multi_model.zip
	train-eval --model $(DATA)/regions_model.zip --x $(DATA)/regions_train.bed --genome $(DATA)/genome.fa --window 300 \
	           --target name --scores $(OUT)/regions_scores.tsv --fitted-model $(DATA)/regions_fitted.zip 2> /dev/null
