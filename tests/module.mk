# tests/: every kind of test is discovered by file name; adding a test is adding a file.
#   tests/unit/test_*.cpp    white-box C++ tests linked with the hosted archive
#   tests/check/check_*.c    Check suites against the public C ABI (libcpupolicy.so)
#   tests/cmocka/cmocka_*.c  CMocka tests; an optional NAME.wrap lists symbols to --wrap
#   tests/scripts/test_*.sh  end-to-end scripts over the built binaries
#   tests/bench/bench_*.cpp  Google Benchmark programs (make bench; never in make check)
UNIT_TESTS   += $(patsubst tests/unit/%.cpp,$(BUILD)/tests/unit/%,$(wildcard tests/unit/test_*.cpp))
CHECK_TESTS  += $(patsubst tests/check/%.c,$(BUILD)/tests/check/%,$(wildcard tests/check/check_*.c))
CMOCKA_TESTS += $(patsubst tests/cmocka/%.c,$(BUILD)/tests/cmocka/%,$(wildcard tests/cmocka/cmocka_*.c))
CMOCKA_TESTS += $(patsubst tests/cmocka/%.cpp,$(BUILD)/tests/cmocka/%,$(wildcard tests/cmocka/cmocka_*.cpp))
SCRIPT_TESTS += $(wildcard tests/scripts/test_*.sh)
BENCHES      += $(patsubst tests/bench/%.cpp,$(BUILD)/tests/bench/%,$(wildcard tests/bench/bench_*.cpp))

TEST_RPATH := -Wl,-rpath,$(abspath $(BUILD)/lib)

$(BUILD)/tests/unit/%: $(BUILD)/obj/tests/unit/%.o $(HOSTED_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD        $@")
	$(Q)$(CXX) -o $@ $< $(EXTRA_LDLIBS) $(HOSTED_LIB) $(LIB_LDLIBS) -ldl

$(BUILD)/tests/check/%: $(BUILD)/obj/tests/check/%.o $(LIBSO_REAL)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD        $@")
	$(Q)$(CC) -o $@ $< -L$(BUILD)/lib -lcpupolicy $(TEST_RPATH) $(shell pkg-config --libs check)

# A CMocka test may name the platform-seam symbols it replaces in tests/cmocka/NAME.wrap
# (one per line); they become -Wl,--wrap=SYMBOL.
cmocka_wraps = $(if $(wildcard tests/cmocka/$(1).wrap),$(addprefix -Wl$(comma)--wrap=,$(shell cat tests/cmocka/$(1).wrap)))
comma := ,
$(BUILD)/tests/cmocka/%: $(BUILD)/obj/tests/cmocka/%.o $(HOSTED_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD        $@")
	$(Q)$(CXX) -o $@ $< $(call cmocka_wraps,$*) $(HOSTED_LIB) $(LIB_LDLIBS) -lcmocka -ldl

$(BUILD)/tests/bench/%: $(BUILD)/obj/tests/bench/%.o $(HOSTED_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD        $@")
	$(Q)$(CXX) -o $@ $< $(HOSTED_LIB) $(LIB_LDLIBS) -lbenchmark -lpthread -ldl

# The public header compiles as strict C89, C11 and C++ (STYLE.md: header test).
HEADER_TESTS := $(BUILD)/tests/header/c89.o $(BUILD)/tests/header/c11.o $(BUILD)/tests/header/cxx.o
$(BUILD)/tests/header/c89.o: tests/header.c $(INSTALL_HDRS) 
	@mkdir -p $(@D)
	$(Q)$(CC) -std=c89 -pedantic-errors -Wall -Wextra -Werror -Ilibcpupolicy/include -c $< -o $@
$(BUILD)/tests/header/c11.o: tests/header.c $(INSTALL_HDRS) 
	@mkdir -p $(@D)
	$(Q)$(CC) -std=c11 -pedantic-errors -Wall -Wextra -Werror -Ilibcpupolicy/include -c $< -o $@
$(BUILD)/tests/header/cxx.o: tests/header.c $(INSTALL_HDRS) 
	@mkdir -p $(@D)
	$(Q)$(CXX) -x c++ -std=c++98 -pedantic-errors -Wall -Wextra -Werror -Ilibcpupolicy/include -c $< -o $@

TEST_PROGS = $(UNIT_TESTS) $(CHECK_TESTS) $(CMOCKA_TESTS)
ALL_OBJS += $(patsubst $(BUILD)/tests/%,$(BUILD)/obj/tests/%.o,$(UNIT_TESTS) $(CHECK_TESTS) $(CMOCKA_TESTS) $(BENCHES))
tests: all $(TEST_PROGS) $(HEADER_TESTS)

check: tests check-freestanding check-layers
	$(Q)BUILD=$(BUILD) sh tests/run-tests.sh $(TEST_PROGS) $(SCRIPT_TESTS)

bench: all $(BENCHES)
	$(Q)for b in $(BENCHES); do echo "== $$b"; $$b --benchmark_min_time=0.2 || exit 1; done

# cpupolicy next to Xen 4.17's libxenguest in one table (docs/performance.md): timings
# (minimum and median of BENCH_REPS repetitions) and callgrind instruction counts.
BENCH_REPS ?= 5
.PHONY: bench-compare
bench-compare: $(BUILD)/tests/bench/bench_policy $(BUILD)/bin/xen-cpuid
	$(Q)$(BUILD)/tests/bench/bench_policy --compare --ours-xen-cpuid=$(BUILD)/bin/xen-cpuid \
	    --benchmark_repetitions=$(BENCH_REPS) --benchmark_min_time=0.2
