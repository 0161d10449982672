# Every target bootstraps what it needs: a pinned uv in .tools/, then the locked .venv.
# Nothing here downloads an interpreter: uv uses this machine's Python 3.11.
PYTHON ?= python3.11
UV_VERSION := 0.13.8
UV := .tools/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)
# Installed packages are compiled to bytecode once, here: where bytecode cannot be written at
# run time (PYTHONDONTWRITEBYTECODE, a read-only venv) every start would compile from source.
export UV_COMPILE_BYTECODE := 1
PYTEST_ARGS ?=

.PHONY: install demo test lint format bench clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# The Makefile is a prerequisite too: a change to how the venv is built (the bytecode step)
# re-syncs an existing checkout.
.venv/.synced: pyproject.toml uv.lock Makefile | $(UV)
	$(UV) sync --frozen --quiet
	touch $@

# The project is installed editable, so uv's compile step does not reach its sources: compile
# them on every install. compileall skips files whose .pyc is current and Python re-checks each
# .pyc's recorded source mtime and size on import, so an edited file is never run from a stale
# .pyc (it is compiled from source until the next install).
install: .venv/.synced
	.venv/bin/python -m compileall -q awan_trading awan_pipelines

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
