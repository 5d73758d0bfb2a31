# `make check-sanitize`: the whole tree rebuilt with AddressSanitizer and
# UndefinedBehaviorSanitizer in its own build directory, then every test program and
# script of `make check` run against it.  Not part of `make check` (it costs a full
# rebuild and ~2-3x the test time); docs/robustness.md has the figures and the findings.
#
# How it works: check-sanitize re-runs make with BUILD=$(SAN_BUILD) SANITIZE=1.  With
# SANITIZE=1 the compiler drivers themselves carry the sanitizer flags, so every compile
# AND every link step gets them - the core objects (-ffreestanding: the instrumentation
# only emits calls into the runtime, which the test programs' link pulls in), the hosted
# objects, the shared library (which then needs libasan/libubsan) and every program.
# SANITIZE=1 reaches the `make install` that tests/scripts/test_install.sh runs through
# MAKEFLAGS, so that finds the same objects up to date.
#
# check-freestanding is not run there: instrumented core objects call __asan_* and
# __ubsan_* by design.  The plain `make check` keeps enforcing the contract.

SAN_BUILD ?= $(BUILD)-asan
CLEAN_EXTRA += $(SAN_BUILD)
SAN_OPT   ?= -O1 -g
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# detect_leaks: every test program must free what it allocates.
# check_initialization_order/strict_init_order: static constructors that read another
# translation unit's globals before they are built.
# detect_stack_use_after_return: a pointer to a dead frame (an out-parameter kept too long).
# verify_asan_link_order=0: a few scripts compile small C clients with the system cc
# (tests/scripts/test_install.sh, test_backend_xen.sh) against the instrumented
# libcpupolicy.so.  Those uninstrumented executables get the ASan runtime as a
# dependency of the library rather than first in the link map; ASan still checks the
# library's stack and globals there, the heap checks need the runtime first.
SAN_ASAN_OPTIONS  ?= detect_leaks=1:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1:verify_asan_link_order=0
SAN_UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1

.PHONY: check-sanitize sanitize-run
check-sanitize:
	@echo "  SANITIZE  $(SAN_BUILD) ($(SAN_FLAGS))"
	$(Q)$(MAKE) --no-print-directory BUILD=$(SAN_BUILD) SANITIZE=1 OPT="$(SAN_OPT)" sanitize-run

ifeq ($(SANITIZE),1)
# `override`: a CXX/CC given on the command line (CXX=g++-13) is wrapped, not replaced.
# -Wno-maybe-uninitialized: with the sanitizers' instrumentation at -O1, GCC 12 reports
# libstdc++'s own <regex> (std::function moved inside _NFA) as maybe uninitialized, and
# -Werror made test_abi.cpp fail to build; the plain build keeps the warning.
override CXX := $(CXX) $(SAN_FLAGS) -Wno-maybe-uninitialized
override CC  := $(CC) $(SAN_FLAGS) -Wno-maybe-uninitialized

sanitize-run: tests
	$(Q)ASAN_OPTIONS="$(SAN_ASAN_OPTIONS)" UBSAN_OPTIONS="$(SAN_UBSAN_OPTIONS)" \
	    BUILD=$(BUILD) sh tests/run-tests.sh $(TEST_PROGS) $(SCRIPT_TESTS)
else
sanitize-run:
	@echo "sanitize-run is the inner half of check-sanitize; run 'make check-sanitize'" >&2
	@false
endif
