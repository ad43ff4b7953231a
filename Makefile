# The two commands of the README. Both set up .venv first (idempotent).
PY := .venv/bin/python

.PHONY: setup main test test-slow lint bench clean

setup:
	bash scripts/setup.sh

main: setup
	$(PY) -m liquidcontrol main --out runs/main-$$(date +%Y%m%d-%H%M%S)

test: setup
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest -q
	bash scripts/test_ros.sh

test-slow: setup
	$(PY) -m pytest -q -m slow

lint: setup
	$(PY) -m ruff check .
	$(PY) -m mypy

bench: setup
	$(PY) -m liquidcontrol bench models
	$(PY) -m liquidcontrol bench env parking

clean:
	rm -rf .venv build dist *.egg-info runs
