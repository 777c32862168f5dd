# filot-ocrd - GNU make build.  `make` builds the four programs into
# build/bin; `make test` installs what the tests need and runs them all.

CC        ?= cc
# SANITIZE=address,undefined (any -fsanitize= list) builds everything
# instrumented into build-san/ and leaves build/ alone; see "Sanitizers".
SANITIZE  ?=
BUILD     := $(if $(SANITIZE),build-san,build)
BIN       := $(BUILD)/bin
OBJ       := $(BUILD)/obj

PKGS      := tesseract lept jansson libmicrohttpd libsystemd libcurl libpq hiredis poppler-glib cairo uuid \
             libseccomp

# Debian 12 packages (scripts/deps.sh installs them; the Dockerfile uses
# the runtime list).  print-VAR prints one of these lists.
DEB_BUILD_PKGS   := build-essential pkg-config libtesseract-dev libleptonica-dev libnng-dev \
                    libjansson-dev libmicrohttpd-dev libsystemd-dev libcurl4-openssl-dev \
                    libpq-dev libhiredis-dev libpoppler-glib-dev uuid-dev libseccomp-dev
DEB_RUNTIME_PKGS := tesseract-ocr tesseract-ocr-eng tesseract-ocr-ind
DEB_TEST_PKGS    := $(DEB_BUILD_PKGS) $(DEB_RUNTIME_PKGS) check imagemagick fonts-dejavu-core \
                    prometheus curl procps redis-server postgresql-15 python3 img2pdf \
                    shellcheck jq systemd nodejs clang-format cppcheck clang-tidy bc \
                    fonts-ocr-a fonts-urw-base35 clang libclang-rt-14-dev python3-pil python3-numpy \
                    fonts-liberation2 fonts-freefont-ttf fonts-noto-core fonts-crosextra-carlito \
                    python3-jsonschema
DEB_RUN_PKGS     := $(DEB_BUILD_PKGS) $(DEB_RUNTIME_PKGS) imagemagick fonts-dejavu-core curl \
                    redis-server postgresql-15 python3 img2pdf
# `make bench` (scripts/bench.sh): the card generator, bc, and gnuplot for the plot.
DEB_BENCH_PKGS   := $(DEB_BUILD_PKGS) $(DEB_RUNTIME_PKGS) imagemagick fonts-dejavu-core python3 \
                    bc procps gnuplot-nox curl redis-server postgresql-15
# Package lists of the container image (infra/docker/Dockerfile.gpu).
-include infra/docker/packages.mk
# The version every program reports (--version, build_info): the newest
# released heading of CHANGELOG.md ("## [X.Y.Z] - date").
VERSION   := $(shell sed -n 's/^\#\# \[\([0-9][0-9.]*\)\].*/\1/p' CHANGELOG.md | head -n 1)
CPPFLAGS  += -D_GNU_SOURCE -I. -DFILOT_VERSION='"$(VERSION)"'
CFLAGS    ?= -O2 -g
CFLAGS    += -std=c11 -Wall -Wextra -Werror -MMD -MP -fno-strict-aliasing \
             $(shell pkg-config --cflags $(PKGS))
LDLIBS    := $(shell pkg-config --libs $(PKGS)) -lnng -lpthread -lm

# Sanitizers: every report is fatal (-fno-sanitize-recover, halt/abort_on_error
# in tests/sanitize/options.c, linked into every instrumented program), so a
# finding fails the suite that caused it.  Reports of children go to
# $(SAN_REPORTS) and the last suite (tests/sanitize/reports.sh) fails on any.
ifneq ($(SANITIZE),)
CFLAGS    += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS   += -fsanitize=$(SANITIZE)
SAN_OPTS  := $(BUILD)/obj/tests/sanitize/options.o
SAN_REPORTS := $(abspath $(BUILD)/san-reports)
CPPFLAGS_SAN := -DLSAN_SUPPRESSIONS='"$(abspath tests/sanitize/lsan.supp)"' \
                -DSAN_REPORT_PREFIX='"$(SAN_REPORTS)/report"'
endif

# CUDA: built with nvcc when the toolkit exists (CUDA_HOME or /usr/local/cuda).
# A sanitized build takes the no-CUDA stub: nvcc's host code is not
# instrumented and cudart under ASan needs protect_shadow_gap=0 (README).
CUDA_HOME ?= /usr/local/cuda
NVCC      := $(if $(SANITIZE),,$(wildcard $(CUDA_HOME)/bin/nvcc))
ifneq ($(NVCC),)
HAVE_CUDA := 1
NVCCFLAGS ?= -O2 -std=c++17 -I. -MD -MP -Xcompiler -Wall,-Wextra,-Werror \
             -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
             -gencode arch=compute_90,code=compute_90
CUDA_LIBS := -L$(CUDA_HOME)/lib64 -lcudart_static -ldl -lrt -lstdc++
endif

# Sources: each program's main.c plus the rest of its folder as a library.
COMMON_SRC := $(wildcard common/*.c) $(wildcard ipc/*.c)
WORKER_SRC := $(filter-out ocr-workers/main.c,$(wildcard ocr-workers/*.c ocr-workers/reading/*.c))
SUP_SRC    := $(filter-out supervisor/main.c,$(wildcard supervisor/*.c))
GPU_SRC    := $(filter-out gpu-server/main.c gpu-server/preproc_nocuda.c,$(wildcard gpu-server/*.c))
ifeq ($(HAVE_CUDA),1)
GPU_CU     := $(wildcard gpu-server/*.cu)
else
GPU_SRC    += gpu-server/preproc_nocuda.c
endif

obj = $(patsubst %.c,$(OBJ)/%.o,$(1))
LIBCOMMON := $(BUILD)/libfilot-common.a
LIBWORKER := $(BUILD)/libfilot-worker.a
LIBSUP    := $(BUILD)/libfilot-supervisor.a
LIBGPU    := $(BUILD)/libfilot-gpu.a

PROGRAMS := $(BIN)/filot-ocrd $(BIN)/filot-gpu-server $(BIN)/filot-ocr-worker $(BIN)/filot-ocr

UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
PROC_SRC   := $(wildcard tests/process/test_*.c)
PROC_BINS  := $(patsubst tests/process/%.c,$(BUILD)/tests/%,$(PROC_SRC))

.PHONY: all test test-build chaos test-unit test-process test-gpu deps lint format bench eval run clean fuzz
all: $(PROGRAMS)

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(OBJ)/%.cu.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -c $< -o $@

$(LIBCOMMON): $(call obj,$(COMMON_SRC))
$(LIBWORKER): $(call obj,$(WORKER_SRC))
$(LIBSUP):    $(call obj,$(SUP_SRC))
$(LIBGPU):    $(call obj,$(GPU_SRC)) $(patsubst %.cu,$(OBJ)/%.cu.o,$(GPU_CU))
$(BUILD)/%.a:
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BIN)/filot-ocrd: $(OBJ)/supervisor/main.o $(LIBSUP) $(LIBCOMMON) $(SAN_OPTS)
$(BIN)/filot-ocr-worker: $(OBJ)/ocr-workers/main.o $(LIBWORKER) $(LIBCOMMON) $(SAN_OPTS)
$(BIN)/filot-ocr: $(call obj,$(wildcard cli/*.c)) $(LIBWORKER) $(LIBCOMMON) $(SAN_OPTS)
$(BIN)/filot-gpu-server: $(OBJ)/gpu-server/main.o $(LIBGPU) $(LIBCOMMON) $(SAN_OPTS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(LDLIBS) $(CUDA_LIBS)
$(BIN)/%:
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(LDLIBS)

# Unit and process tests (Check).  Each test binary links every library;
# the archive linker pulls in only what it uses.
TEST_LIBS := $(LIBWORKER) $(LIBSUP) $(LIBGPU) $(LIBCOMMON)
UNIT_UTIL := $(filter-out tests/unit/test_%.c,$(wildcard tests/unit/*.c))
$(BUILD)/tests/%: tests/unit/%.c $(UNIT_UTIL) $(TEST_LIBS) $(SAN_OPTS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(shell pkg-config --cflags check) -o $@ $(filter %.c %.o %.a,$^) \
	    $(LDFLAGS) $(LDLIBS) $(CUDA_LIBS) $(shell pkg-config --libs check)
# Process tests run the programs of the same build (build/bin or build-san/bin).
PROC_UTIL  := $(filter-out tests/process/test_%.c,$(wildcard tests/process/*.c)) $(UNIT_UTIL)
$(BUILD)/tests/%: tests/process/%.c $(PROC_UTIL) $(LIBCOMMON) $(SAN_OPTS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -DTEST_BIN_DIR='"$(BIN)"' $(CFLAGS) $(shell pkg-config --cflags check) \
	    -o $@ $(filter %.c %.o %.a,$^) $(LDFLAGS) $(LDLIBS) $(shell pkg-config --libs check)

ifneq ($(SANITIZE),)
# The run-time defaults of an instrumented build (tests/sanitize/options.c).
$(SAN_OPTS): tests/sanitize/options.c
	@mkdir -p $(dir $@) $(SAN_REPORTS)
	$(CC) $(CPPFLAGS) $(CPPFLAGS_SAN) $(CFLAGS) -c $< -o $@
endif

# Fuzzing (libFuzzer, clang).  Every tests/fuzz/fuzz_<name>.c defines
# LLVMFuzzerTestOneInput; its seed corpus (and every crash input it ever
# found) is tests/fuzz/corpus/<name>/.  The project's sources are compiled a
# second time with clang and sanitizers into build/fuzz/, so the gcc build
# above is untouched.  `make fuzz` runs each target FUZZ_SECONDS; `make test`
# runs a short smoke pass (tests/fuzz/run.sh).
FUZZ_CC      ?= clang
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_SECONDS ?= 60
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS  := -O1 -g -std=c11 -Wall -Wextra -Werror -MMD -MP -fno-strict-aliasing \
                $(FUZZ_SAN) $(shell pkg-config --cflags $(PKGS))
FUZZ_LIB_SRC := $(COMMON_SRC) $(WORKER_SRC) $(filter-out gpu-server/main.c,$(wildcard gpu-server/*.c))
FUZZ_LIB     := $(FUZZ_DIR)/libfilot-fuzz.a
FUZZ_UTIL    := $(filter-out tests/fuzz/fuzz_%.c,$(wildcard tests/fuzz/*.c))
FUZZ_BINS    := $(patsubst tests/fuzz/%.c,$(FUZZ_DIR)/%,$(wildcard tests/fuzz/fuzz_*.c))

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
$(FUZZ_LIB): $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(FUZZ_LIB_SRC))
	rm -f $@ && ar rcs $@ $^
$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_UTIL) $(FUZZ_LIB)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $(filter %.c %.a,$^) $(LDLIBS)

fuzz: $(FUZZ_BINS)
	tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BINS)

# `make test`: install packages (scripts/deps.sh), build, run every suite:
# Check unit and process tests, the short chaos soak, the deployment checks,
# the format check, then the unit and process tests again built with
# SAN_DEFAULT (build-san/) and the check that no sanitizer report was written.
# `make test SANITIZE=...` runs only that instrumented pass.
SAN_DEFAULT := address,undefined
# Check case time-outs are multiplied by this for instrumented code.
SAN_SLOWDOWN := 4
SAN_SUITES  := $(patsubst $(BUILD)/%,build-san/%,$(UNIT_BINS) $(PROC_BINS)) \
               tests/sanitize/reports.sh
ifeq ($(SANITIZE),)
test: deps
	$(MAKE) all $(UNIT_BINS) $(PROC_BINS) $(FUZZ_BINS)
	$(MAKE) SANITIZE=$(SAN_DEFAULT) test-build
	rm -f build-san/san-reports/*
	CK_TIMEOUT_MULTIPLIER=$(SAN_SLOWDOWN) tests/run.sh $(UNIT_BINS) $(PROC_BINS) tests/chaos/short.sh \
	    tests/fuzz/run.sh tests/infra/run.sh tests/cli/run.sh scripts/lint.sh $(SAN_SUITES)
else
test: deps
	$(MAKE) test-build
	rm -f $(SAN_REPORTS)/*
	CK_TIMEOUT_MULTIPLIER=$(SAN_SLOWDOWN) tests/run.sh $(SAN_SUITES)
endif

test-build: all $(UNIT_BINS) $(PROC_BINS)

test-unit: all $(UNIT_BINS)
	tests/run.sh $(UNIT_BINS)

test-process: all $(PROC_BINS)
	tests/run.sh $(PROC_BINS)

deps:
	scripts/deps.sh test
	scripts/infra-deps.sh

test-gpu:
	tests/gpu/run.sh

run:
	scripts/deps.sh run
	$(MAKE) all
	scripts/run-local.sh

# Benchmark programs (bench/*.c), built only for `make bench`.
BENCH_BINS := $(BUILD)/bench/engine-limit $(BUILD)/bench/ipc-bench
$(BUILD)/bench/engine-limit: $(OBJ)/bench/engine_limit.o $(LIBCOMMON)
$(BUILD)/bench/ipc-bench: $(OBJ)/bench/ipc_bench.o $(LIBCOMMON)
$(BUILD)/bench/%:
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(LDLIBS)

bench:
	scripts/deps.sh bench
	$(MAKE) all $(BENCH_BINS)
	scripts/bench.sh

# Soak under faults: two filot-ocrd on one queue, N documents, kills and
# server restarts (tests/chaos/run.sh; CHAOS_ARGS e.g. "--docs 300 --no-clean").
chaos: all
	FILOT_BIN_DIR=$(BIN) tests/chaos/run.sh $(CHAOS_ARGS)

# Extraction accuracy: the original's raw Tesseract call vs filot-ocrd on a
# deterministic set of card photos drawn by tests/eval/gen-photos.py
# (tests/eval/run.sh; table in build/eval/report.txt and latest.json).
eval: all
	tests/eval/run.sh

lint:
	scripts/lint.sh --full

format:
	clang-format -i $$(git ls-files '*.c' '*.h' '*.cu')

clean:
	rm -rf $(BUILD)

print-%:
	@echo $($*)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
