# docs/: docs/features.md is generated from the one feature table by a small host
# program (docs/gen-features.cpp); `make docs` rewrites it, and
# tests/scripts/test_docs_fresh.sh fails `make check` when the committed copy is stale.
GEN_FEATURES := $(BUILD)/docs/gen-features
ALL_OBJS     += $(BUILD)/obj/docs/gen-features.o

$(GEN_FEATURES): $(BUILD)/obj/docs/gen-features.o
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD        $@")
	$(Q)$(CXX) -o $@ $<

# The freshness test runs the generator, so `make check` must have built it.
tests: $(GEN_FEATURES)

docs: $(GEN_FEATURES)
	@$(if $(Q),echo "  GEN       docs/features.md")
	$(Q)$(GEN_FEATURES) > docs/features.md.tmp && mv docs/features.md.tmp docs/features.md
