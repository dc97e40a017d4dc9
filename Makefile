# Two commands: `make demo` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
SIZE ?= 100000
DEMO_OUT ?= out/demo
PYTEST_ARGS ?=

.PHONY: demo test install lint bench browser-deps clean sample

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# Headless Chromium and a CJK font for the end-to-end report test (Debian packages).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null) \
	    || echo "browser-deps: could not install chromium; browser test will fail"; \
	  else echo "browser-deps: chromium missing and not root; install chromium + fonts-noto-cjk"; fi; }

lint: install
	$(BIN)/ruff check screening features models data_contracts tests benchmarks
	$(BIN)/lint-imports

test: install browser-deps lint
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

demo: install
	$(BIN)/screening demo --data data/sample --out $(DEMO_OUT)

bench: install
	$(BIN)/python -m benchmarks.run --size $(SIZE)

# Regenerate the committed sample (data/sample + data/sample.truth.csv), only on purpose.
sample: install
	$(BIN)/screening sample --firms 2000 --seed 1 --mess 0.02 --out data/sample

clean:
	rm -rf $(VENV) out .pytest_cache
