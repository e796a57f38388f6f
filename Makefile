# Two commands for a fresh clone: `make run` and `make test`. See README.md.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
HOST   ?= 127.0.0.1
PORT   ?= 8000

# Installs come only from the locks: every package pinned, with its hashes, pip itself included.
INSTALL := $(PY) -m pip install --quiet --require-hashes
# `make lock` keeps every pin it can; LOCK_ARGS="--upgrade-package django" moves one package.
LOCK   := $(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links $(LOCK_ARGS)

.PHONY: run test check lint format migrate demo worker bench clean lock

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt | $(PY)
	$(INSTALL) -r requirements.txt
	touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(INSTALL) -r requirements-dev.txt
	touch $(STAMP) $@

# The embedded default: SQLite and in-process tasks unless DATABASE_URL / REDIS_URL are set.
run: export DJANGO_DEBUG ?= 1
run: $(STAMP)
	$(PY) manage.py migrate --no-input
	$(PY) manage.py loaddemo
	@echo ""
	@echo "  reviewapp is starting at http://$(HOST):$(PORT)/"
	@echo "  Demo login: username demo, password demo-reviewapp"
	@echo ""
	$(PY) manage.py runserver $(HOST):$(PORT)

test: $(DEV_STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

# What CI runs: the lint, then the whole suite.
check: lint test

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	DJANGO_DEBUG=1 $(VENV)/bin/mypy reviewapp
	DJANGO_DEBUG=1 $(PY) manage.py makemigrations --check --dry-run

format: $(DEV_STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

migrate: $(STAMP)
	$(PY) manage.py migrate --no-input

demo: $(STAMP)
	$(PY) manage.py loaddemo

worker: $(STAMP)
	$(VENV)/bin/celery -A reviewapp worker --loglevel=INFO

# Recompile the locks from requirements.in and requirements-dev.in (the runtime lock first: it
# constrains the development one, so both name the same versions).
lock: export CUSTOM_COMPILE_COMMAND = make lock
lock: $(DEV_STAMP)
	$(LOCK) -o requirements.txt requirements.in
	$(LOCK) -o requirements-dev.txt requirements-dev.in

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache .ruff_cache
