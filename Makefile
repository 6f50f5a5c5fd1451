# make run  — install into .venv, build the index from corpus/ when needed, open the chat
# make test — install with the test and scale extras (and Chromium for the browser tests), run the whole suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INDEX ?= index
export GRADIO_ANALYTICS_ENABLED := False
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install install-test index run test bench eval-real browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,scale]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

index: install
	$(BIN)/healthqa build corpus --index $(INDEX) --if-stale

run: index
	$(BIN)/healthqa serve --index $(INDEX)

# The browser tests drive Debian's Chromium; test tools may not download browsers here.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Chromium from Debian's packages for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium; }

test: install-test browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/run.py

# Retrieval (and answers) on the real dev sets in ../shared/data: one table, JSON in bench/eval-real.json.
# Indexes are cached in .cache/eval-real/. EVAL_ARGS="--no-answers --compare --sets piaf-fr,sample" to choose.
eval-real: install
	$(BIN)/python eval/realdata.py $(EVAL_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
	@# the index folder's contents, but its README (index/README.md is part of the repository)
	[ ! -d $(INDEX) ] || find $(INDEX) -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
