# Two commands on a fresh machine (Python 3.11 and make): `make run` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
DEMO_PASSWORD ?= demo-pass-2026
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run serve test lint typecheck check bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo --password $(DEMO_PASSWORD)
	$(PY) manage.py collectstatic --noinput -v 0
	@echo "Serving on http://$(HOST):$(PORT)/ — log in with any demo user above, password: $(DEMO_PASSWORD)"
	$(VENV)/bin/gunicorn config.wsgi:application --bind $(HOST):$(PORT) --workers 2 --access-logfile -

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .

typecheck: install
	$(VENV)/bin/mypy

check: lint typecheck test

clean:
	rm -rf $(VENV) var
