# Every target bootstraps what it needs: a pinned uv in .tools/, then the locked .venv.
# Nothing here downloads an interpreter: uv uses this machine's Python 3.11.
PYTHON ?= python3.11
UV_VERSION := 0.13.8
UV := .tools/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)
PYTEST_ARGS ?=

.PHONY: install demo test lint format bench clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --quiet
	touch $@

install: .venv/.synced

demo: install
	.venv/bin/python -m awan_pipelines.demo

test: install
	.venv/bin/ruff check .
	.venv/bin/pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format: install
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

bench: install
	for script in benchmarks/*.py; do .venv/bin/python $$script || exit 1; done

clean:
	rm -rf .venv .tools .awan
