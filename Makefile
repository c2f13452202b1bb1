# dfstudy build. `make` builds lib/ into build/libdfstudy.a and every bin/<tool>.c into bin/<tool>.
# CPU is the default; CUDA sources (lib/**/*.cu) are compiled too whenever nvcc is found
# (on PATH or under CUDA_PATH), unless CUDA=0.
#
#   make              build everything
#   make test         C unit tests + bats suites; ends with "N passed, N failed"
#   make test-matrix  the suite under every OpenBLAS kernel the CPU runs, 1 and 2 threads, and under load (long)
#   make sanitize     unit tests and a short pipeline under AddressSanitizer + UndefinedBehaviorSanitizer
#   make portable     lib and unit tests for a portable x86-64 target (x86-64-v2) in build-portable, tested
#   make cross-arm64  lib, tools and unit tests cross-compiled for arm64, unit tests run under qemu-user
#                     (needs make cross-deps)
#   make valgrind     each tool of the quick profile's kinds of commands under valgrind (slow; not in CI)
#   make fuzz         run each fuzz target for FUZZ_SECONDS (clang libFuzzer)
#   make deps         install the Debian packages needed to build, run and test
#   make fixture-deps install what the fixture generators (tests/make-fixtures-*.py) need
#   make cross-deps   install what make cross-arm64 needs (arm64 cross compiler, qemu-user, arm64 libraries)
#   make study        the study (pipelines/study.mk): PROFILE=quick|demo|test [JOBS=2] [RUNS=runs]
#   make demo         make study PROFILE=demo, then print where the report is
#   make bench        build the benchmark programs (bench/*.c) and run the quick set (bench/quick.sh)

ifeq ($(origin CC),default)
CC := gcc
endif
BUILD   ?= build
CUDA_PATH ?= /usr/local/cuda

# -march=native when the compiler accepts it (MARCH= to build portable binaries)
MARCH ?= $(shell $(CC) -march=native -x c -c -o /dev/null /dev/null 2>/dev/null && echo -march=native)

OPT     ?= -O2
CFLAGS  ?= $(OPT) -g $(MARCH)
override CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fopenmp -Ilib $(SAN_FLAGS) $(DEPS_CFLAGS)

PKGS := libpng zlib libavformat libavcodec libswscale libavutil
DEPS_CFLAGS := $(shell pkg-config --cflags $(PKGS) openblas 2>/dev/null)
DEPS_LIBS   := $(shell pkg-config --libs $(PKGS) openblas 2>/dev/null)
ifeq ($(strip $(DEPS_LIBS)),)
DEPS_LIBS := -lpng -lz -lavformat -lavcodec -lswscale -lavutil -lopenblas
endif
LDLIBS  := $(DEPS_LIBS) -lm -ldl -fopenmp $(SAN_FLAGS)

# ---- CUDA detection ----
# The CUDA backend (lib/**/*.cu) is a plugin, $(BUILD)/libdfs_cuda.so, that lib/nn/backend.c opens
# with dlopen when a tool is asked to compute on a GPU: the tools link no CUDA library, so they
# start as fast and run the same on machines without a GPU or without the toolkit.
NVCC ?= $(shell command -v nvcc 2>/dev/null || { test -x $(CUDA_PATH)/bin/nvcc && echo $(CUDA_PATH)/bin/nvcc; })
CUDA_SRCS := $(shell find lib -name '*.cu' 2>/dev/null | sort)
ifeq ($(CUDA),0)
NVCC :=
endif
ifneq ($(and $(NVCC),$(CUDA_SRCS)),)
CUDA_ARCH ?= -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90
CUDA_OBJS := $(CUDA_SRCS:%.cu=$(BUILD)/%.o)
CUDA_PLUGIN := $(BUILD)/libdfs_cuda.so
endif

LIB_SRCS  := $(shell find lib -name '*.c' | sort)
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIB       := $(BUILD)/libdfstudy.a
TOOLS     := $(patsubst %.c,%,$(wildcard bin/*.c))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all test test-matrix unit sanitize valgrind fuzz deps fixture-deps clean info study demo portable cross-arm64 cross-deps bench bench-build
.SECONDARY:
all: info $(TOOLS) $(UNIT_BINS) $(CUDA_PLUGIN)

info:
	@echo "dfstudy: cc=$(CC) march=$(if $(MARCH),$(MARCH),generic) cuda=$(if $(CUDA_OBJS),$(NVCC),off$(if $(NVCC),$(if $(CUDA_SRCS),, (nvcc found, no CUDA sources yet)),))"

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) -O2 -std=c++17 $(CUDA_ARCH) -Xcompiler -fPIC -Ilib -MMD -MP -c $< -o $@

# the plugin finds the toolkit's libraries where it was built (rpath), or through ld.so.conf
$(CUDA_PLUGIN): $(CUDA_OBJS)
	$(NVCC) -shared $(CUDA_ARCH) -o $@.tmp $^ -L$(CUDA_PATH)/lib64 -Xlinker -rpath=$(CUDA_PATH)/lib64 -lcublas -lcudart
	mv $@.tmp $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

bin/%: $(BUILD)/bin/%.o $(LIB)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# Tests: unit binaries and bats suites, counted together by tests/run.sh.
test: all
	@BUILD=$(BUILD) tests/run.sh

unit: all
	@BUILD=$(BUILD) tests/run.sh --unit-only

# tests/matrix.sh: a test that depends on the BLAS kernel, the thread count or the load fails here
test-matrix: all
	@BUILD=$(BUILD) tests/matrix.sh

# Sanitizers: a separate build tree so the normal build stays untouched: the unit tests, then a
# short end-to-end pipeline (tests/sanitize-e2e.sh) with the tools built into build-san/tools/.
# At -O2 like the normal build: the vectorised kernels then round as they do there, and the
# whole-model finite-difference check (calibrated on that rounding) means the same thing.
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
sanitize:
	$(MAKE) BUILD=build-san SAN_FLAGS="$(SAN)" OPT=-O2 TOOLS= unit
	$(MAKE) BUILD=build-san SAN_FLAGS="$(SAN)" OPT=-O2 TOOLS= $(TOOLS:bin/%=build-san/tools/%)
	tests/sanitize-e2e.sh build-san/tools

# Portable: the library and the unit tests for an older CPU than this one, so the kernels' narrower
# vector paths (lib/nn/simd.h) are built and tested too: x86-64-v2 (SSE4.2, no AVX, no FMA) on an
# x86-64 host, the compiler's default target elsewhere.
PORTABLE_MARCH ?= $(if $(filter x86_64,$(shell uname -m)),-march=x86-64-v2)
portable:
	$(MAKE) BUILD=build-portable MARCH=$(PORTABLE_MARCH) CUDA=0 TOOLS= unit

# arm64: cross-compiled (Debian's aarch64-linux-gnu-gcc, arm64 libraries through multiarch:
# scripts/deps.sh --arm64) into build-arm64, tools in build-arm64/tools; the unit tests run under
# qemu-user. OPENBLAS_CORETYPE names an x86 kernel where it is set: not passed on.
ARM64_PKG_CONFIG := PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig
cross-arm64:
	$(ARM64_PKG_CONFIG) $(MAKE) BUILD=build-arm64 CC=aarch64-linux-gnu-gcc MARCH= CUDA=0 TOOLS= \
	    build-arm64/libdfstudy.a $(UNIT_SRCS:tests/unit/%.c=build-arm64/tests/%) $(TOOLS:bin/%=build-arm64/tools/%)
	env -u OPENBLAS_CORETYPE DFS_RUNNER=qemu-aarch64 BUILD=build-arm64 tests/run.sh --unit-only

cross-deps:
	@scripts/deps.sh --arm64

# Valgrind: the same pipeline, every tool under memcheck (minutes; not in CI). A portable build
# (no -march=native: valgrind does not know every AVX-512 instruction) in build-vg/tools.
VALGRIND := valgrind --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99 -q
valgrind:
	$(MAKE) BUILD=build-vg MARCH= OPT=-O1 TOOLS= $(TOOLS:bin/%=build-vg/tools/%)
	DFS_RUNNER="$(VALGRIND)" tests/sanitize-e2e.sh build-vg/tools

$(BUILD)/tools/%: $(BUILD)/bin/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

FUZZ_SECONDS ?= 60
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
fuzz:
	$(MAKE) BUILD=build-fuzz CC=clang MARCH= SAN_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -Wno-error" OPT=-O1 build-fuzz/libdfstudy.a
	@mkdir -p build-fuzz/corpus
	@set -e; for src in $(FUZZ_SRCS); do \
	    name=$$(basename $$src .c); \
	    clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Ilib $(DEPS_CFLAGS) \
	        -o build-fuzz/$$name $$src build-fuzz/libdfstudy.a $(DEPS_LIBS) -lm -fopenmp; \
	    mkdir -p build-fuzz/corpus/$$name; \
	    seeds=tests/fuzz/seeds/$$name; [ -d $$seeds ] || seeds=; \
	    maxlen=$$( { echo 65536; [ -z "$$seeds" ] || find $$seeds -type f -printf '%s\n'; } | sort -n | tail -1); \
	    echo "fuzz: $$name for $(FUZZ_SECONDS)s"; \
	    build-fuzz/$$name -artifact_prefix=build-fuzz/$$name- -max_total_time=$(FUZZ_SECONDS) -max_len=$$maxlen -rss_limit_mb=2048 \
	        build-fuzz/corpus/$$name $$seeds || { \
	        echo "fuzz: $$name found a crash: build-fuzz/$$name-*; copy it to tests/fuzz/regressions/$$name/"; exit 1; }; \
	done

deps:
	@scripts/deps.sh

fixture-deps:
	@scripts/deps.sh --fixtures

PROFILE ?= quick
JOBS    ?= 2
study: $(TOOLS)
	$(MAKE) -f pipelines/study.mk -j$(JOBS) PROFILE=$(PROFILE)

demo: $(TOOLS)
	$(MAKE) -f pipelines/study.mk -j$(JOBS) PROFILE=demo
	@echo "demo study report: $(or $(RUNS),runs)/demo/report.md"

# Benchmarks: each bench/NAME.c is one program, $(BUILD)/bench/NAME, built with the flags above
# (the bench/ scripts build through these targets, so the flags have one copy). Not part of `all`.
BENCH_PROGS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))
$(BENCH_PROGS): $(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIB)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

bench-build: $(BENCH_PROGS)

bench: bench-build
	BUILD=$(BUILD) bench/quick.sh

clean:
	rm -rf build build-san build-fuzz build-vg build-portable build-arm64 $(TOOLS)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
