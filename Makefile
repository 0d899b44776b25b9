# The README's commands. Everything installs into .venv; system packages (Chromium for the
# browser tests, PostgreSQL for the team-scale catalog tests) are installed when missing.
VENV ?= .venv
PY := $(CURDIR)/$(VENV)/bin/python
PIP := $(PY) -m pip
# Kernels, `jupyter`, `jlpm` and friends must come from the venv.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
PYTEST_ARGS ?=

.PHONY: install system-deps demo test lint lint-check lab bench bench-venvs clean

$(VENV)/.installed: pyproject.toml labextension/package.json labextension/yarn.lock
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e ".[test]"
# Serve the front end from the source tree: `cd labextension && jlpm build` is live.
	$(VENV)/bin/jupyter-builder develop --overwrite . >/dev/null
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (mlinfra)"
	touch $@

# Rebuild the front end when its sources change (pip only builds it when the package is
# (re)installed); `make install` links the venv's labextension to this build.
LABEXT_SOURCES := $(shell find labextension/src labextension/style -type f 2>/dev/null)
$(VENV)/.labextension: $(VENV)/.installed $(LABEXT_SOURCES)
	cd labextension && jlpm build
	touch $@

install: $(VENV)/.installed $(VENV)/.labextension

system-deps:
	@missing=""; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	command -v pg_config >/dev/null && test -x "$$(pg_config --bindir)/initdb" || missing="$$missing postgresql"; \
	ldconfig -p | grep -q 'libgomp\.so\.1 ' || missing="$$missing libgomp1"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/tmp/mlinfra-apt.log 2>&1 \
	    || { tail -20 /tmp/mlinfra-apt.log; exit 1; }; \
	fi

demo: install
	$(PY) example_notebooks/run_demo.py

# The browser tests run in their own pytest process: JupyterLab, Playwright and the kernels
# they start then see none of the state the rest of the suite leaves in its process.
# PYTEST_ARGS="tests/core -x" runs just that selection.
test: install system-deps
ifeq ($(strip $(PYTEST_ARGS)),)
	$(MAKE) --no-print-directory lint-check
	$(PY) -m pytest --ignore=tests/ui
	$(PY) -m pytest tests/ui
else
	$(PY) -m pytest $(PYTEST_ARGS)
endif

# The quality gates: `make test` fails on a lint, format or type violation; `make lint` fixes
# what the tools can fix (imports, formatting, eslint --fix, prettier) and reports the rest.
lint-check: install
	$(VENV)/bin/ruff check jupyter_mlinfra tests benchmarks example_notebooks
	$(VENV)/bin/ruff format --check jupyter_mlinfra tests benchmarks example_notebooks
	$(VENV)/bin/mypy
	cd labextension && jlpm lint:check

lint: install
	$(VENV)/bin/ruff check --fix jupyter_mlinfra tests benchmarks example_notebooks
	$(VENV)/bin/ruff format jupyter_mlinfra tests benchmarks example_notebooks
	$(VENV)/bin/mypy
	cd labextension && jlpm lint

lab: install
	$(VENV)/bin/jupyter lab --allow-root

# One venv per tool the benchmarks compare against (Feast, MLflow, ipyflow: their dependencies
# clash with ours and each other's), under benchmarks/.venvs/; kept while its requirements are
# unchanged. A tool that does not install is reported by its benchmark, not a make failure.
bench-venvs: install
	$(PY) benchmarks/_venvs.py

bench: install bench-venvs
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) jupyter_mlinfra/labextension labextension/node_modules labextension/lib test-artifacts
