# toolstack/cpupolicy/: the `cpupolicy` command (L3), linked against the shared library
# like any toolstack would be ($ORIGIN rpath: works in build/ and after install alike).
# One file per group of subcommands; all of them see only the public header, the
# library's internal API (libcpupolicy/internal) and the core's headers (mk/layers.mk).
CPUPOLICY_SRCS := $(wildcard toolstack/cpupolicy/*.cpp)
CPUPOLICY_OBJS := $(patsubst %.cpp,$(BUILD)/obj/%.o,$(CPUPOLICY_SRCS))
ALL_OBJS       += $(CPUPOLICY_OBJS)
CPUPOLICY_LDLIBS ?=
# The build tree and a plain `make install` find the library through $ORIGIN; a
# distribution package sets CPUPOLICY_RPATH= (empty: the library is on the system path).
CPUPOLICY_RPATH ?= -Wl,-rpath,'$$ORIGIN/../lib'
CPUPOLICY_BIN := $(BUILD)/bin/cpupolicy
$(CPUPOLICY_BIN): $(CPUPOLICY_OBJS) $(LIBSO_REAL)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD        $@")
	$(Q)$(CXX) -o $@ $(CPUPOLICY_OBJS) -L$(BUILD)/lib -lcpupolicy $(CPUPOLICY_LDLIBS) $(CPUPOLICY_RPATH) $(HOST_LDFLAGS)
BINS += $(CPUPOLICY_BIN)
all: $(CPUPOLICY_BIN)
