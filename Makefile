# Two entry points (see README): `make run` and `make test`. Both create .venv and install first.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test bench peers clean

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run: make PYTHON=/path/to/python3.11"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"

$(STAMP): pyproject.toml requirements.lock | $(PY)
	$(PY) -m pip install --quiet -c requirements.lock -e ".[baselines,test]"
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) -m app.demo $(ARGS)

test: install
	$(PY) -m pytest

bench: install
	$(PY) benchmarks/bench_synthesizers.py

# SmartNoise Synth (the benchmark's peer) in a separate virtualenv: its pins clash with ours.
PEER_VENV := benchmarks/.peer-venv
peers: install
	test -x $(PEER_VENV)/bin/python || $(PYTHON) -m venv $(PEER_VENV)
	$(PEER_VENV)/bin/python -m pip install --quiet --upgrade "pip>=24"
	$(PEER_VENV)/bin/python -m pip install --quiet -r benchmarks/peers/requirements.txt
	$(PY) benchmarks/bench_synthesizers.py --peers $(ARGS)

clean:
	rm -rf $(VENV) synthgen-data .pytest_cache
