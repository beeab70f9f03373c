# Two commands do all set-up:  `make demo` (train + evaluate on synthetic data)  and  `make test`.
# Each creates/refreshes the virtual environment in .venv and builds the Cython extension.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
TORCH_PKGS ?= torch==2.14.1 torchvision==0.29.1
IMAGE  ?= torchreid
PYTEST_ARGS ?=
BENCH_ARGS ?= --quick --seeds 1 2 3

.PHONY: venv demo test lint format bench-eval bench-train bench-data bench-extract bench-search bench-accuracy build-image run clean

# The stamp is rebuilt whenever the dependency lists or the build files change.
$(VENV)/.installed: requirements.txt requirements-extras.txt requirements-dev.txt setup.py pyproject.toml torchreid/metrics/rank_cylib/rank_cy.pyx
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q $(TORCH_PKGS)
	$(PY) -m pip install -q -r requirements.txt -r requirements-extras.txt -r requirements-dev.txt Cython
	$(PY) -m pip install -q --no-build-isolation -e .
	$(PY) setup.py -q build_ext --inplace
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(PY) scripts/main.py --config-file configs/quickstart.yaml

test: venv
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

lint: venv
	PATH=$(VENV)/bin:$$PATH ./linter.sh --check

format: venv
	PATH=$(VENV)/bin:$$PATH ./linter.sh

bench-eval: venv
	$(PY) benchmarks/bench_eval.py

bench-train: venv
	$(PY) benchmarks/bench_train.py

bench-data: venv
	$(PY) benchmarks/bench_data.py

bench-extract: venv
	$(PY) benchmarks/bench_extract.py

bench-search: venv
	$(PY) benchmarks/bench_search.py

# accuracy vs the original on real Market-1501 (needs ../shared/data): BENCH_ARGS="--quick --seeds 1 2 3"
bench-accuracy: venv
	$(PY) benchmarks/bench_accuracy.py $(BENCH_ARGS)

build-image:
	docker build -t $(IMAGE) .

# Mounts the repo and the data folder; needs the NVIDIA container toolkit for --gpus.
run:
	docker run --rm -it --gpus all --shm-size 8g -v $(CURDIR):/workspace/torchreid -v $(CURDIR)/reid-data:/workspace/reid-data $(IMAGE)

clean:
	rm -rf build *.egg-info torchreid/metrics/rank_cylib/*.so torchreid/metrics/rank_cylib/*.c
