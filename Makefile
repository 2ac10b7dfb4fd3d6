# The two commands of the README: `make demo` and `make test`. Each installs what it needs.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
export UV_PYTHON_DOWNLOADS := never

.PHONY: demo test setup browser

setup:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen --python python3.11

demo: setup
	$(UV) run --frozen python manage.py rundemo

# Debian's chromium for the browser tests and wrk for the load tests against gunicorn;
# skipped quietly where apt is not ours to use.
browser:
	@command -v chromium >/dev/null 2>&1 && command -v wrk >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium wrk >/dev/null) || \
	  echo "chromium or wrk not installed: browser or load tests will skip"; }

test: setup browser
	bash tests/run.sh
