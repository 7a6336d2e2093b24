# Two commands a newcomer needs: `make repro` (the pipeline) and `make test` (the tests).
# Both create .venv on first use. Offline, point KEXUE_DATA_MIRROR at a dataset mirror first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: repro quick test test-fast bench push pull clean-venv

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@# sentiment's PNG pages draw Chinese: they need a CJK font (Debian: fonts-wqy-microhei, ~5 MB)
	@fc-list 2>/dev/null | grep -qiE "wqy|noto sans cjk|source han sans" || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get install -y -q fonts-wqy-microhei >/dev/null || (apt-get update -q >/dev/null && apt-get install -y -q fonts-wqy-microhei >/dev/null)); } || \
	  echo "warning: no CJK font found; install one (e.g. sudo apt-get install fonts-wqy-microhei) for the sentiment PNG pages"
	touch $(STAMP)

repro: $(STAMP)  ## run the whole pipeline (full parameters)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/dvc repro

quick: $(STAMP)  ## the whole pipeline with `profile: quick`, as a DVC experiment (minutes on a laptop)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/dvc exp run -S profile=quick

test: $(STAMP)  ## the test suite (what CI runs)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python -m pytest

# Trained models and data travel through the DVC remote (`storage` in .dvc/config: ~/kexue-dvc-remote
# unless overridden). KEXUE_DVC_REMOTE=<path or URL> points it elsewhere for this clone (.dvc/config.local).
DVC := PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/dvc
REMOTE_OVERRIDE = $(if $(KEXUE_DVC_REMOTE),$(DVC) remote add --local --force storage "$(KEXUE_DVC_REMOTE)" &&,)

push: $(STAMP)  ## share what `dvc repro` built: every cached output to the DVC remote
	$(REMOTE_OVERRIDE) $(DVC) push

pull: $(STAMP)  ## fetch a teammate's trained outputs instead of training them: `dvc status` is clean after it
	$(REMOTE_OVERRIDE) $(DVC) pull

test-fast: $(STAMP)  ## the tests without the end-to-end dvc runs
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python -m pytest -m "not slow"

bench: $(STAMP)  ## Lightning vs plain PyTorch throughput, a no-op `dvc repro`, our CRF vs pytorch-crf
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python benchmarks/train_throughput.py
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python benchmarks/noop_repro.py
	$(BIN)/pip install -q pytorch-crf==0.7.2  # a benchmark-only dependency
	$(BIN)/python benchmarks/crf_vs_pytorch_crf.py

clean-venv:
	rm -rf $(VENV)
