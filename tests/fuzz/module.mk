# tests/fuzz/: fuzz harnesses (docs/robustness.md).  Every tests/fuzz/fuzz_*.cpp is one
# libFuzzer target, built two ways:
#
#   $(BUILD)/tests/fuzz/TARGET-replay  g++, linked with tests/fuzz/replay_main.cpp and the
#                                      hosted archive: replays the committed corpus
#                                      tests/fuzz/corpus/TARGET/ plus 10000 fixed-seed
#                                      mutations.  A unit test: part of `make check`.
#   $(BUILD)/fuzz/TARGET               clang + libFuzzer + ASan/UBSan over its own build
#                                      of the core and library: `make fuzz`.
#
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="fuzz_import ..."] [FUZZ_FLAGS=-jobs=2]
#   make fuzz-merge [FUZZ_TARGETS=...]   keep what the runs found that adds coverage
#
# New inputs libFuzzer finds go to $(BUILD)/fuzz/corpus/TARGET/ (the committed corpus
# is only read); crashes to $(BUILD)/fuzz/artifacts/.  A crash file reproduces with
# either binary: `$(BUILD)/fuzz/TARGET FILE` or `$(BUILD)/tests/fuzz/TARGET-replay FILE`.

FUZZ_TARGETS ?= $(patsubst tests/fuzz/%.cpp,%,$(wildcard tests/fuzz/fuzz_*.cpp))
FUZZ_REPLAYS := $(patsubst %,$(BUILD)/tests/fuzz/%-replay,$(FUZZ_TARGETS))
ALL_OBJS     += $(patsubst %,$(BUILD)/obj/tests/fuzz/%.o,$(FUZZ_TARGETS) replay_main make_seeds)
UNIT_TESTS   += $(FUZZ_REPLAYS)
$(BUILD)/tests/fuzz/%-replay: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/obj/tests/fuzz/replay_main.o $(HOSTED_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD        $@")
	$(Q)$(CXX) -o $@ $< $(BUILD)/obj/tests/fuzz/replay_main.o $(EXTRA_LDLIBS) $(HOSTED_LIB) $(LIB_LDLIBS) -ldl

tests: $(FUZZ_REPLAYS)

# --- libFuzzer ----------------------------------------------------------------------------
FUZZ_CXX     ?= clang++
FUZZ_SECONDS ?= 60
FUZZ_FLAGS   ?=
# Inputs up to 16 KiB: a whole policy frame (protocol.hpp MAX_PAYLOAD) or a dump's CPU block.
FUZZ_MAX_LEN ?= 16384
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_BINS    := $(addprefix $(FUZZ_DIR)/,$(FUZZ_TARGETS))
# clang builds its own copy of everything: coverage instrumentation (fuzzer-no-link) and
# the sanitizers must be in the library code, not only in the harness.  -Werror is left
# to the g++ build, which owns the warning policy; clang's warnings are still printed.
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  = -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_CORE_CXXFLAGS = $(filter-out -Werror $(OPT),$(CORE_CXXFLAGS)) $(FUZZ_CFLAGS)
FUZZ_HOST_CXXFLAGS = $(filter-out -Werror $(OPT),$(HOST_CXXFLAGS)) $(FUZZ_CFLAGS)
FUZZ_OBJS = $(patsubst hypervisor/core/src/%.cpp,$(FUZZ_DIR)/core/%.o,$(CORE_SRCS)) \
            $(patsubst %.cpp,$(FUZZ_DIR)/obj/%.o,$(L1_SRCS) $(SIM_SRCS) $(LIB_SRCS))
FUZZ_LIB  := $(FUZZ_DIR)/libcpupolicy-fuzz.a
FUZZ_DEPS_STAMP := $(FUZZ_DIR)/.deps-ok

# clang and its runtimes (libFuzzer, ASan, UBSan) are needed only when fuzzing is asked
# for; plain make installs nothing (`./build.sh fuzz` installs them first).
$(FUZZ_DEPS_STAMP):
	$(Q)mkdir -p $(@D)
	$(Q)command -v $(firstword $(FUZZ_CXX)) >/dev/null || \
	    { echo "make fuzz: $(FUZZ_CXX) not found; run ./build.sh fuzz (installs clang and libclang-rt-dev)" >&2; false; }
	$(Q)touch $@

$(FUZZ_DIR)/core/%.o: hypervisor/core/src/%.cpp | $(FUZZ_DEPS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CXX(fuzz) $<")
	$(Q)$(FUZZ_CXX) $(FUZZ_CORE_CXXFLAGS) $(DEPFLAGS) -c $< -o $@

$(FUZZ_DIR)/obj/%.o: %.cpp | $(FUZZ_DEPS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CXX(fuzz) $<")
	$(Q)$(FUZZ_CXX) $(FUZZ_HOST_CXXFLAGS) $(LAYER_INC) $(DEPFLAGS) -c $< -o $@

$(FUZZ_LIB): $(FUZZ_OBJS)
	@$(if $(Q),echo "  AR        $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/tests/fuzz/fuzz_%.o $(FUZZ_LIB)
	@$(if $(Q),echo "  LD        $@")
	$(Q)$(FUZZ_CXX) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $< $(FUZZ_EXTRA_LDLIBS) $(FUZZ_LIB) $(LIB_LDLIBS) -ldl -lpthread

.PHONY: fuzz fuzz-build
fuzz-build: $(FUZZ_BINS)

# Each target in turn for FUZZ_SECONDS; stops at the first crash (libFuzzer exits non-zero).
fuzz: fuzz-build
	$(Q)set -e; for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_DIR)/corpus/$$t $(FUZZ_DIR)/artifacts; \
	    dict=; [ -f tests/fuzz/$$t.dict ] && dict=-dict=tests/fuzz/$$t.dict; \
	    echo "== $$t: $(FUZZ_SECONDS) s"; \
	    $(FUZZ_DIR)/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAX_LEN) -timeout=10 \
	        -print_final_stats=1 $(FUZZ_FLAGS) \
	        -artifact_prefix=$(FUZZ_DIR)/artifacts/$$t- $$dict \
	        $(FUZZ_DIR)/corpus/$$t tests/fuzz/corpus/$$t; \
	done

# Keep what `make fuzz` found: each target's inputs in $(FUZZ_DIR)/corpus that add
# coverage to the committed corpus are merged into tests/fuzz/corpus/TARGET, named by
# their SHA-1 (libFuzzer -merge=1); `make check` replays them from then on.
.PHONY: fuzz-merge
fuzz-merge: fuzz-build
	$(Q)set -e; for t in $(FUZZ_TARGETS); do \
	    [ -d $(FUZZ_DIR)/corpus/$$t ] || continue; \
	    echo "== $$t: merge into tests/fuzz/corpus/$$t"; \
	    $(FUZZ_DIR)/$$t -merge=1 -max_len=$(FUZZ_MAX_LEN) -timeout=10 \
	        tests/fuzz/corpus/$$t $(FUZZ_DIR)/corpus/$$t 2>&1 | grep -E '^MERGE-OUTER: [0-9]+ new files' || true; \
	done

# The binary seeds are generated (tests/fuzz/make_seeds.cpp); `make fuzz-seeds` rewrites
# them and tests/scripts/test_fuzz_seeds_fresh.sh fails `make check` when they are stale.
FUZZ_SEEDGEN := $(BUILD)/tests/fuzz/make_seeds
$(FUZZ_SEEDGEN): $(BUILD)/obj/tests/fuzz/make_seeds.o $(HOSTED_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD        $@")
	$(Q)$(CXX) -o $@ $< $(EXTRA_LDLIBS) $(HOSTED_LIB) $(LIB_LDLIBS) -ldl
tests: $(FUZZ_SEEDGEN)

.PHONY: fuzz-seeds
fuzz-seeds: $(FUZZ_SEEDGEN)
	@$(if $(Q),echo "  GEN       tests/fuzz/corpus (protocol frames, wire entries)")
	$(Q)$(FUZZ_SEEDGEN) tests/fuzz/corpus
