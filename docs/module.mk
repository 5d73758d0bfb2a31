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

# docs/man/: every man page, one source format (pandoc Markdown, Debian `pandoc`), generated into
# $(BUILD)/man by `make man`; `make install` installs them (each module installs its own
# pages) and tests/scripts/test_man.sh holds them to each command's --help.
MAN_SRCS  := $(wildcard docs/man/*.md)
MAN_PAGES := $(patsubst docs/man/%.md,$(BUILD)/man/%,$(MAN_SRCS))
PANDOC ?= pandoc
.PHONY: man install-man uninstall-man
man: $(MAN_PAGES)
$(BUILD)/man/%: docs/man/%.md
	@mkdir -p $(@D)
	@$(if $(Q),echo "  PANDOC    $@")
	$(Q)$(PANDOC) -s -f markdown -t man $< -o $@.tmp && mv $@.tmp $@
tests: man
# The pages not installed by their command's module: the library's (3), the model file
# format (5), the cpupolicy command's (1).
MAN_OTHER := $(filter-out $(BUILD)/man/xen-cpuid.1 $(BUILD)/man/cpupolicyd.8,$(MAN_PAGES))
install: install-man
install-man: $(MAN_OTHER)
	$(foreach s,$(sort $(patsubst .%,%,$(suffix $(MAN_OTHER)))),install -d $(DESTDIR)$(MANDIR)/man$(s) && \
	    install -m 0644 $(filter %.$(s),$(MAN_OTHER)) $(DESTDIR)$(MANDIR)/man$(s)/;)
uninstall: uninstall-man
uninstall-man:
	rm -f $(foreach p,$(MAN_OTHER),$(DESTDIR)$(MANDIR)/man$(patsubst .%,%,$(suffix $(p)))/$(notdir $(p)))

# docs/completion/: bash completion for cpupolicy and xen-cpuid (installed under the
# name xen-cpuid is installed as, so that bash-completion's loader finds it);
# tests/scripts/test_completion.sh drives them.
COMPLETIONSDIR ?= $(DATADIR)/bash-completion/completions
.PHONY: install-completion uninstall-completion
install: install-completion
install-completion:
	install -d $(DESTDIR)$(COMPLETIONSDIR)
	install -m 0644 docs/completion/cpupolicy.bash $(DESTDIR)$(COMPLETIONSDIR)/cpupolicy
	install -m 0644 docs/completion/xen-cpuid.bash $(DESTDIR)$(COMPLETIONSDIR)/$(XEN_CPUID_NAME)
uninstall: uninstall-completion
uninstall-completion:
	rm -f $(DESTDIR)$(COMPLETIONSDIR)/cpupolicy $(DESTDIR)$(COMPLETIONSDIR)/$(XEN_CPUID_NAME)
	-rmdir $(DESTDIR)$(COMPLETIONSDIR) 2>/dev/null
