# Kindred: everyday commands.
#   make run    set up, migrate, load the demo community and serve on http://$(HOST):$(PORT)
#   make test   set up and run the whole test suite (extra pytest args: PYTEST_ARGS="-k chat")

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
TEST_WORKERS ?= 2

.DEFAULT_GOAL := help
.PHONY: help venv run test lint check-deploy audit clean

help:
	@echo "make run           serve Kindred with the demo community on http://$(HOST):$(PORT)"
	@echo "make test          run the test suite (PYTEST_ARGS=... passes options to pytest)"
	@echo "make lint          ruff check"
	@echo "make check-deploy  Django's deployment checks with production-like settings"
	@echo "make audit         look for known vulnerabilities in the pinned dependencies"
	@echo "make clean         remove caches and collected static files (keeps .venv and the database)"

# The virtualenv is made once; packages are reinstalled only when pyproject.toml changes.
$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

# DJANGO_DEBUG=1 and KINDRED_GROUPS_NEED_APPROVAL=0 are defaults for local use only:
# anything already set in the environment wins.
run: venv
	@mkdir -p var
	@export DJANGO_DEBUG="$${DJANGO_DEBUG-1}" \
		KINDRED_GROUPS_NEED_APPROVAL="$${KINDRED_GROUPS_NEED_APPROVAL-0}" && \
	$(PY) manage.py migrate --noinput && \
	$(PY) manage.py seed_demo && \
	$(PY) manage.py collectstatic --noinput -v0 && \
	echo "Kindred is starting on http://$(HOST):$(PORT)/ (Ctrl+C to stop)" && \
	exec $(VENV)/bin/daphne -b $(HOST) -p $(PORT) config.asgi:application

test: venv
	@mkdir -p var
	$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .

# Production-like values, as in .env.example; a fresh random secret each time. REDIS_URL
# (not contacted by the checks) because production counts rate limits in a shared cache.
check-deploy: venv
	@mkdir -p var
	@secret="$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(64))')" && \
	env DJANGO_DEBUG=0 \
		DJANGO_SECRET_KEY="$$secret" \
		DJANGO_ALLOWED_HOSTS=kindred.example.org \
		DJANGO_CSRF_TRUSTED_ORIGINS=https://kindred.example.org \
		DJANGO_SSL_REDIRECT=1 \
		DJANGO_HSTS_SECONDS=31536000 \
		REDIS_URL="$${REDIS_URL:-redis://127.0.0.1:6379/0}" \
		$(PY) manage.py check --deploy --fail-level WARNING

# Known vulnerabilities in the installed (pinned) dependencies, from PyPI's advisory data.
# Fails on a vulnerability found; says so plainly (and passes) when the service cannot be
# reached or answers for none of them. See deploy/audit_dependencies.py.
audit: venv
	$(PY) deploy/audit_dependencies.py

clean:
	rm -rf var/static .pytest_cache .ruff_cache *.egg-info
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
