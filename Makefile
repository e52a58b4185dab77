# Fengqiao build and CI entry points (GNU make). See README for what each target does.
#
#   make install     system packages (apt), .venv, Python requirements, compiled messages
#   make run         migrate, load the demo data, serve http://127.0.0.1:8000
#   make test        lint, type-check, migration check, system check, pytest (SQLite, in-memory layer)
#   make test-scale  pytest again against a throwaway PostgreSQL cluster and redis-server
#   make bench       benchmarks (python -m bench)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements.sha256

APT_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 fontconfig \
	fonts-noto-cjk libmagic1 gettext redis-server postgresql chromium poppler-utils openssl

# apt needs root; fall back to sudo when run as an ordinary user.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: help install install-system install-venv install-messages run test lint test-scale bench clean

help:
	@echo "targets: install run test test-scale bench lint clean"

install: install-messages

# Only touches apt when a package is missing (removed packages with config files left count as
# missing), so re-runs are fast and work offline.
install-system:
	@missing=(); \
	for pkg in $(APT_PACKAGES); do \
		dpkg -s "$$pkg" 2>/dev/null | grep -x 'Status: install ok installed' >/dev/null || missing+=("$$pkg"); \
	done; \
	if ! command -v python3 >/dev/null; then missing+=(python3 python3-venv); \
	elif ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then missing+=(python3-venv); fi; \
	if (( $${#missing[@]} )); then \
		echo "==> apt-get install $${missing[*]}"; \
		$(SUDO) apt-get update -qq; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			"$${missing[@]}" >/dev/null; \
	fi

# Recreate the venv if it is missing or its interpreter no longer runs (e.g. Python was removed);
# reinstall requirements only when requirements.txt changed since the last successful install.
install-venv: install-system
	@if ! $(PY) -c '' >/dev/null 2>&1; then \
		echo "==> python3 -m venv $(VENV)"; \
		rm -rf $(VENV); \
		python3 -m venv $(VENV); \
	fi; \
	want=$$(sha256sum requirements.txt | cut -d' ' -f1); \
	have=$$(cat $(STAMP) 2>/dev/null || true); \
	if [[ "$$want" != "$$have" ]]; then \
		echo "==> pip install -r requirements.txt"; \
		$(PY) -m pip install -q --disable-pip-version-check --no-input -r requirements.txt; \
		echo "$$want" > $(STAMP); \
	fi

# Compile .po files only when there are translations (project locale/ or an app's locale/).
install-messages: install-venv
	@if [[ -n "$$(find . \( -path ./$(VENV) -o -path ./var -o -path ./.git -o -path ./node_modules \) -prune \
			-o -type d -name locale -print -quit)" ]]; then \
		$(PY) manage.py compilemessages -v0 -i $(VENV) -i var -i node_modules; \
	fi

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py init_pki
	$(PY) manage.py load_demo
	$(PY) manage.py collectstatic --noinput -v0
	exec $(VENV)/bin/daphne -b 127.0.0.1 -p 8000 mediation.asgi:application

test: export DJANGO_SETTINGS_MODULE := mediation.settings
test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py check
	$(VENV)/bin/pytest

lint: export DJANGO_SETTINGS_MODULE := mediation.settings
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test-scale: export DJANGO_SETTINGS_MODULE := mediation.settings
test-scale: install
	scripts/scale-lane.sh

bench: export DJANGO_SETTINGS_MODULE := mediation.settings
bench: install
	$(PY) -m bench

clean:
	rm -rf .pytest_cache
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
