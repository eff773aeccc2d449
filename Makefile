# One obvious way to run everything:  make lab  |  make test
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8888
# JupyterLab refuses to run as root unless told; a lab VM or container often is root.
ROOTFLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

# make lab is a learner's lab: nbgrader's instructor panels (Formgrader, Create Assignment, Course
# List) stay hidden (deploy/learner/). An instructor shows them with: make lab ROLE=instructor
ROLE   ?= learner
LABENV := $(if $(filter learner,$(ROLE)),JUPYTER_CONFIG_PATH=$(CURDIR)/deploy/learner,)
# JupyterHub's proxy, for the lab-on-JupyterHub test and deploy/jupyterhub (Node.js from the system)
CHP_VERSION := 4.6.3
CHP_STAMP   := .hub/.configurable-http-proxy-$(CHP_VERSION)

.PHONY: lab test setup system-deps hub-deps notebooks learner-build lint bench clean

## make lab: set up, then open the course in JupyterLab (first notebook ready)
lab: setup
	$(LABENV) $(BIN)/jupyter lab --ip=127.0.0.1 --port=$(PORT) $(ROOTFLAG) --ServerApp.root_dir=$(CURDIR) notebooks/01_active_close.ipynb

## make test: set up (including Debian's chromium for the browser tests), run every test
test: setup system-deps hub-deps
	$(BIN)/python -m pytest

setup: $(BIN)/.installed

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

## Debian packages the tests need: chromium (browser tests), iproute2 (namespaces),
## tshark (reads the pcap export back; no setuid dumpcap: it only reads files here).
## Installed only when missing; needs root (CI runs as root).
system-deps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v ip >/dev/null || missing="$$missing iproute2"; \
	command -v tshark >/dev/null || missing="$$missing tshark"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "missing Debian packages:$$missing (run as root: apt-get install$$missing)"; exit 2; \
	  fi; \
	fi

## configurable-http-proxy from the npm registry, into .hub/ (deploy/jupyterhub finds it there)
hub-deps: $(CHP_STAMP)

$(CHP_STAMP):
	npm install --prefix .hub --no-save --no-audit --no-fund --loglevel=error configurable-http-proxy@$(CHP_VERSION)
	touch $@

## regenerate the learner copies in notebooks/ from course/source
notebooks: setup
	$(BIN)/tcpclose notebooks

## make learner-build: dist/tcp_goodbye_learner-*.whl, the course for a lab's student image:
## no reference handlers, no hidden tests, the reference's runs recorded as data
learner-build: setup
	$(BIN)/python -m autograder.learner_build wheel dist

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: setup
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f; done

clean:
	rm -rf $(VENV) .hub test-output course/release course/submitted course/autograded course/feedback course/gradebook.db course/grading.key
