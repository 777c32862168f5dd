# filot-ocrd - GNU make build.  `make` builds the four programs into
# build/bin; `make test` installs what the tests need and runs them all.

CC        ?= cc
BUILD     := build
BIN       := $(BUILD)/bin
OBJ       := $(BUILD)/obj

PKGS      := tesseract lept jansson libmicrohttpd libsystemd libcurl libpq hiredis poppler-glib cairo uuid

# Debian 12 packages (scripts/deps.sh installs them; the Dockerfile uses
# the runtime list).  print-VAR prints one of these lists.
DEB_BUILD_PKGS   := build-essential pkg-config libtesseract-dev libleptonica-dev libnng-dev \
                    libjansson-dev libmicrohttpd-dev libsystemd-dev libcurl4-openssl-dev \
                    libpq-dev libhiredis-dev libpoppler-glib-dev uuid-dev
DEB_RUNTIME_PKGS := tesseract-ocr tesseract-ocr-eng tesseract-ocr-ind
DEB_TEST_PKGS    := $(DEB_BUILD_PKGS) $(DEB_RUNTIME_PKGS) check imagemagick fonts-dejavu-core \
                    prometheus curl procps redis-server postgresql-15 python3 img2pdf \
                    shellcheck jq systemd nodejs clang-format cppcheck clang-tidy bc \
                    fonts-ocr-a fonts-urw-base35 python3-jsonschema
DEB_RUN_PKGS     := $(DEB_BUILD_PKGS) $(DEB_RUNTIME_PKGS) imagemagick fonts-dejavu-core curl \
                    redis-server postgresql-15 python3 img2pdf
# Ubuntu package lists of the container image (infra/docker/Dockerfile.gpu).
-include infra/docker/packages.mk
# The version every program reports (--version, build_info): the newest
# released heading of CHANGELOG.md ("## [X.Y.Z] - date").
VERSION   := $(shell sed -n 's/^\#\# \[\([0-9][0-9.]*\)\].*/\1/p' CHANGELOG.md | head -n 1)
CPPFLAGS  += -D_GNU_SOURCE -I. -DFILOT_VERSION='"$(VERSION)"'
CFLAGS    ?= -O2 -g
CFLAGS    += -std=c11 -Wall -Wextra -Werror -MMD -MP -fno-strict-aliasing \
             $(shell pkg-config --cflags $(PKGS))
LDLIBS    := $(shell pkg-config --libs $(PKGS)) -lnng -lpthread -lm

# CUDA: built with nvcc when the toolkit exists (CUDA_HOME or /usr/local/cuda).
CUDA_HOME ?= /usr/local/cuda
NVCC      := $(wildcard $(CUDA_HOME)/bin/nvcc)
ifneq ($(NVCC),)
HAVE_CUDA := 1
NVCCFLAGS ?= -O2 -std=c++17 -I. -Xcompiler -Wall,-Wextra,-Werror \
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

.PHONY: all test test-unit test-process test-gpu deps lint format bench eval run clean
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

$(BIN)/filot-ocrd: $(OBJ)/supervisor/main.o $(LIBSUP) $(LIBCOMMON)
$(BIN)/filot-ocr-worker: $(OBJ)/ocr-workers/main.o $(LIBWORKER) $(LIBCOMMON)
$(BIN)/filot-ocr: $(call obj,$(wildcard cli/*.c)) $(LIBWORKER) $(LIBCOMMON)
$(BIN)/filot-gpu-server: $(OBJ)/gpu-server/main.o $(LIBGPU) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(LDLIBS) $(CUDA_LIBS)
$(BIN)/%:
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(LDLIBS)

# Unit and process tests (Check).  Each test binary links every library;
# the archive linker pulls in only what it uses.
TEST_LIBS := $(LIBWORKER) $(LIBSUP) $(LIBGPU) $(LIBCOMMON)
UNIT_UTIL := $(filter-out tests/unit/test_%.c,$(wildcard tests/unit/*.c))
$(BUILD)/tests/%: tests/unit/%.c $(UNIT_UTIL) $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(shell pkg-config --cflags check) -o $@ $(filter %.c %.a,$^) \
	    $(LDLIBS) $(CUDA_LIBS) $(shell pkg-config --libs check)
PROC_UTIL  := $(filter-out tests/process/test_%.c,$(wildcard tests/process/*.c))
$(BUILD)/tests/%: tests/process/%.c $(PROC_UTIL) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(shell pkg-config --cflags check) -o $@ $(filter %.c %.a,$^) \
	    $(LDLIBS) $(shell pkg-config --libs check)

# `make test`: install packages (scripts/deps.sh), build, run every suite:
# Check unit and process tests, the deployment checks, and the format check.
test: deps
	$(MAKE) all $(UNIT_BINS) $(PROC_BINS)
	tests/run.sh $(UNIT_BINS) $(PROC_BINS) tests/infra/run.sh scripts/lint.sh

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

bench: all
	scripts/bench.sh

# Extraction accuracy: the original's raw Tesseract call vs filot-ocrd on a
# deterministic set of generated, degraded cards (tests/eval/run.sh).
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
