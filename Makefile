# The two commands a newcomer needs: `make run` (the whole product, offline) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run serve test soak soak-cluster bench screenshots lint format lock clean

# Runtime packages, locked with hashes (requirements.in -> requirements.txt, `make lock`);
# re-installed when requirements.txt changes.
$(VENV)/.runtime: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "Python 3.12 or newer is needed (3.13 recommended, see .python-version); python3 is " + sys.version.split()[0])'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements.txt
	touch $@

# Test and lint packages on top; re-installed when either requirements file changes.
$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.txt
	touch $@

## run: the app at http://127.0.0.1:8000 with demo users and the local CDP sandbox (Ctrl-C stops)
run: $(VENV)/.runtime
	$(PY) -m backoffice.launch.dev

## serve: the production shape on one machine: gunicorn (4 workers), whitenoise, a worker per queue
serve: $(VENV)/.runtime
	$(PY) -m backoffice.launch.serve

# The test identity provider's npm packages (tests/oidc, node-oidc-provider), from its lock file.
tests/oidc/node_modules/.package-lock.json: tests/oidc/package-lock.json
	cd tests/oidc && npm ci --no-audit --no-fund --loglevel=error

## test: lint, type-check, then the whole test suite (browser tests need Debian's chromium, see README)
# PYTEST_ARGS narrows the run, e.g. make test PYTEST_ARGS='-m "not e2e"' (as .ci/run's later passes).
PYTEST_ARGS ?=
test: $(VENV)/.dev tests/oidc/node_modules/.package-lock.json
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy .
	$(PY) -m pytest $(PYTEST_ARGS)

## soak: 1,000 edits under injected faults (needs DATABASE_URL pointing at PostgreSQL)
soak: $(VENV)/.dev
	$(PY) -m pytest -m soak -s -rs tests/system/test_soak.py

## soak-cluster: HAProxy, two app nodes, three workers, PostgreSQL and a Redis of its own, on
## each tasks backend (docs/reliability.md); installs Debian's haproxy if it is missing
SOAK_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/backoffice_soak
SOAK_REDIS_PORT ?= 18660
SOAK_ENV = SOAK_CLUSTER=1 DATABASE_URL=$(SOAK_DATABASE_URL) \
	REDIS_URL=redis://127.0.0.1:$(SOAK_REDIS_PORT)/0 SESSION_ENGINE=django.contrib.sessions.backends.cached_db
soak-cluster: $(VENV)/.dev
	command -v haproxy >/dev/null || { apt-get update -qq && apt-get install -y -qq haproxy; }
	$(SOAK_ENV) TASKS_BACKEND=rq $(PY) -m pytest -m soak_cluster -s -rs -p no:cacheprovider tests/system/test_soak_cluster.py
	$(SOAK_ENV) TASKS_BACKEND=database $(PY) -m pytest -m soak_cluster -s -rs -p no:cacheprovider tests/system/test_soak_cluster.py

## bench: every benchmark, results in bench/results.md (PostgreSQL; see docs/benchmarks.md)
$(VENV)/.bench: $(VENV)/.dev bench/requirements.txt
	$(PY) -m pip install --quiet --require-hashes -r bench/requirements.txt
	touch $@
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/backoffice_bench
bench: $(VENV)/.bench
	DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) -m bench.run

## screenshots: the main pages as PNG files in docs/screenshots (headless Chromium)
screenshots: $(VENV)/.dev
	$(PY) -m pytest -q tests/e2e/screenshots.py

## lint / format: ruff
lint: $(VENV)/.dev
	$(PY) -m ruff check .
	$(PY) -m mypy .
format: $(VENV)/.dev
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

## lock: compile requirements*.in into the pinned, hashed requirements*.txt (needs PyPI)
LOCK := -m piptools compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-find-links --no-emit-index-url
lock: $(VENV)/.dev
	$(PY) $(LOCK) -o requirements.txt requirements.in
	$(PY) $(LOCK) -o requirements-dev.txt requirements-dev.in
	cd bench && ../$(PY) $(LOCK) -o requirements.txt requirements.in

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
