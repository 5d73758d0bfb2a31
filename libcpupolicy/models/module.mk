# libcpupolicy/models/: named CPU models (libvirt's CPU map, this project's model files)
# through libxml2.  An L1 userspace piece: uses only the core.  Its objects go into the
# library with the C ABI in libcpupolicy/src/api_models.cpp.
MODELS_SRCS := $(wildcard libcpupolicy/models/*.cpp)
LIB_SRCS += $(MODELS_SRCS)
ALL_OBJS += $(patsubst %.cpp,$(BUILD)/obj/%.o,$(MODELS_SRCS))

# The one copy of the model-file schema is config/cpu-models/cpu-model.rng; the library
# embeds it as a string literal.
MODELS_RNG_INC := $(BUILD)/gen/models/cpu_model_rng.inc
$(MODELS_RNG_INC): config/cpu-models/cpu-model.rng
	@mkdir -p $(@D)
	$(Q){ printf 'R"cpupolicy_rng('; cat $<; printf ')cpupolicy_rng"\n'; } > $@
$(BUILD)/obj/libcpupolicy/models/model_file.o: $(MODELS_RNG_INC)
# and make fuzz's clang build of the same file (tests/fuzz/module.mk)
$(BUILD)/fuzz/obj/libcpupolicy/models/model_file.o: $(MODELS_RNG_INC)

# The shipped models and the schema, where the tools look for them relative to their own
# binary ($ORIGIN/../share/cpupolicy/cpu-models), in the build tree as after install.
MODELS_DATA := $(wildcard config/cpu-models/*.xml) config/cpu-models/cpu-model.rng
MODELS_DATA_BUILD := $(patsubst config/cpu-models/%,$(BUILD)/share/cpupolicy/cpu-models/%,$(MODELS_DATA))
$(BUILD)/share/cpupolicy/cpu-models/%: config/cpu-models/%
	@mkdir -p $(@D)
	$(Q)cp $< $@
all: $(MODELS_DATA_BUILD)

install: install-models
.PHONY: install-models
install-models: $(MODELS_DATA_BUILD)
	install -d $(DESTDIR)$(DATADIR)/cpupolicy/cpu-models
	install -m 0644 $(MODELS_DATA) $(DESTDIR)$(DATADIR)/cpupolicy/cpu-models/
uninstall: uninstall-models
.PHONY: uninstall-models
uninstall-models:
	rm -f $(addprefix $(DESTDIR)$(DATADIR)/cpupolicy/cpu-models/,$(notdir $(MODELS_DATA)))
	-rmdir $(DESTDIR)$(DATADIR)/cpupolicy/cpu-models $(DESTDIR)$(DATADIR)/cpupolicy 2>/dev/null
