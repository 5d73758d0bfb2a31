# toolstack/: the `cpupolicy` command, linked against the shared library like any
# toolstack would be ($ORIGIN rpath: works in build/ and after install alike).
CPUPOLICY_BIN := $(BUILD)/bin/cpupolicy
CPUPOLICY_OBJS := $(BUILD)/obj/toolstack/cpupolicy.o $(BUILD)/obj/toolstack/cmd_model.o
$(CPUPOLICY_BIN): $(CPUPOLICY_OBJS) $(LIBSO_REAL)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD        $@")
	$(Q)$(CXX) -o $@ $(CPUPOLICY_OBJS) -L$(BUILD)/lib -lcpupolicy -Wl,-rpath,'$$ORIGIN/../lib'
BINS += $(CPUPOLICY_BIN)
all: $(CPUPOLICY_BIN)
