# The two commands of the README: `make serve` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The libvirt binding builds only where libvirt-dev is installed (.ci/run installs it);
# without it the simulated driver, the default, is all there is.
LIBVIRT_EXTRA := $(shell pkg-config --exists libvirt 2>/dev/null && echo ,libvirt)

.PHONY: serve test check unit install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev$(LIBVIRT_EXTRA)]'
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(BIN)/coldshift serve $(ARGS)

check: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/mypy tests bench
	$(BIN)/lint-imports

# Two workers, a test file each at a time: most tests wait on the servers they start.
test: check
	$(BIN)/pytest -n 2 --dist loadfile $(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) coldshift-data .pytest_cache .mypy_cache .ruff_cache
