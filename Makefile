# gnnexp developer commands. `make train` and `make test` install what they need first.
VENV       ?= .venv
PYTHON     ?= python3
PY         := $(VENV)/bin/python
# torch is pinned and installed first: an unpinned torch (or a range 2.13.0 does not
# satisfy) pulls several GB of CUDA wheels on CPU-only machines. Override on GPU machines,
# e.g. make install TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu126"
TORCH_SPEC ?= torch==2.13.0
EXTRAS     ?= dev
STAMP      := $(VENV)/.installed-$(EXTRAS)
# Offline machines: raw dataset files that are copied into ./data when it lacks them.
SEED_DATA  ?= ../shared/data
ARGS       ?=

.PHONY: install train test test-fast lint bench bench-hpo scale reproduce clean bench-kg bench-hetero

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $(STAMP)

install: $(STAMP)

data/.seeded:
	@if [ -z "$$GNNEXP_DATA_DIR" ] && [ -d "$(SEED_DATA)" ]; then \
		mkdir -p data && cp -rn $(SEED_DATA)/. data/ && chmod -R u+w data && touch data/.seeded; \
		echo "copied raw datasets from $(SEED_DATA) into ./data"; \
	fi

## Train the default experiment (GCN on Cora); pass overrides with ARGS="model=gat ..."
train: install data/.seeded
	$(VENV)/bin/gnnexp train $(ARGS)

# The tests run in one process per core (pytest-xdist), each on one thread: two processes
# with a thread per core each would slow each other down many times over.
TEST_RUN   := OMP_NUM_THREADS=1 $(PY) -m pytest -q -n auto

## Run the checks (types, import layers) and the test suite
test: install
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache
	$(TEST_RUN) $(ARGS)

## The fast subset of the tests (the slow ones, listed in tests/conftest.py, left out; under 2 minutes)
test-fast: install
	$(TEST_RUN) -m "not slow" $(ARGS)

## gnnexp's loop against the plain PyG loop, sampling throughput, start-up (ARGS="--quick" for a short run);
## knowledge graphs against PyKEEN: make bench-kg
bench: install data/.seeded
	$(PY) benchmarks/bench.py $(ARGS)

## A 32-trial Optuna search for GAT on Cora with and without pruning, one worker against two (~15 min)
bench-hpo: install data/.seeded
	$(PY) benchmarks/hpo.py $(ARGS)

## The papers' results (GCN, GAT on Cora/CiteSeer, GIN on MUTAG by both protocols, GINE on ChEMBL; every KG model on Kinships, UMLS, Nations beside PyKEEN), ours beside theirs (~30 min; the KG rows took 30 more on a busy 2-core machine)
reproduce: install data/.seeded
	$(PY) benchmarks/reproduce.py $(ARGS)

## Optional extras: make install-joblib, install-submitit, install-optuna, install-ray, ...
install-%: install
	$(PY) -m pip install --quiet -e '.[$*]'

## One epoch of neighbour-sampled GraphSAGE on a generated 1M-node, 10M-edge graph (~3 min)
scale: install
	$(PY) benchmarks/scale.py $(ARGS)

lint: install
	$(VENV)/bin/ruff check gnnexp tests benchmarks hydra_plugins
	$(VENV)/bin/ruff format --check gnnexp tests benchmarks hydra_plugins
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# PyKEEN lives in the benchmark's own environment, never in gnnexp's (torch first, pinned, as above).
PYKEEN_VENV ?= benchmarks/.venv-pykeen

$(PYKEEN_VENV)/.installed:
	test -x $(PYKEEN_VENV)/bin/python || $(PYTHON) -m venv $(PYKEEN_VENV)
	$(PYKEEN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PYKEEN_VENV)/bin/python -m pip install --quiet $(TORCH_SPEC)
	$(PYKEEN_VENV)/bin/python -m pip install --quiet pykeen==1.11.1
	touch $@

## Knowledge graphs against PyKEEN 1.11.1 (own venv): speed per epoch, evaluation, MRR, interleaved (ARGS="--quick")
bench-kg: install data/.seeded $(PYKEEN_VENV)/.installed
	$(PY) benchmarks/kg.py --pykeen $(PYKEEN_VENV)/bin/python $(ARGS)

clean:
	rm -rf $(VENV) $(PYKEEN_VENV) build dist *.egg-info .pytest_cache .ruff_cache .mypy_cache

## Typed graphs: plain to_hetero(SAGE) loop vs gnnexp on Cora as papers and words, and papers only (~5 min)
bench-hetero: install data/.seeded
	$(PY) benchmarks/hetero.py $(ARGS)

## Transform cache: MUTAG and Cora loading in new processes, no transform vs random_walk_pe cold and warm (~2 min)
.PHONY: bench-transform-cache
bench-transform-cache: install data/.seeded
	$(PY) benchmarks/transform_cache.py $(ARGS)
