# libcpupolicy/: the C ABI library (L2, libcpupolicy/src) over the L1 userspace pieces -
# the dump importer (libcpupolicy/import), the protocol codec (libcpupolicy/protocol),
# the simulated machine the embedded backend boots in-process (hypervisor/sim), the
# toolstack's SQLite store (libcpupolicy/store) - and the
# same core objects.  Include lists per module: mk/layers.mk.
L1_SRCS  := $(wildcard libcpupolicy/import/*.cpp libcpupolicy/protocol/*.cpp libcpupolicy/store/*.cpp)
SIM_SRCS := $(wildcard hypervisor/sim/*.cpp)
LIB_SRCS += $(wildcard libcpupolicy/src/*.cpp)
LIB_OBJS  = $(patsubst %.cpp,$(BUILD)/obj/%.o,$(L1_SRCS) $(SIM_SRCS) $(LIB_SRCS))
ALL_OBJS += $(LIB_OBJS)

LIB_LDLIBS := $(shell pkg-config --libs libxml-2.0 2>/dev/null) $(shell pkg-config --libs sqlite3 2>/dev/null || echo -lsqlite3)
# Where the library finds the shipped CPU models when not next to it (api_models.cpp).
$(BUILD)/obj/libcpupolicy/src/api_models.o: HOST_CXXFLAGS += -DCPUPOLICY_MODELS_DIR='"$(DATADIR)/cpupolicy/cpu-models"'

LIBSO_REAL := $(BUILD)/lib/libcpupolicy.so.$(VERSION)
LIBSO_SONAME := libcpupolicy.so.$(SONAME_MAJOR)
LIBSO := $(BUILD)/lib/$(LIBSO_SONAME)
# Everything in one static archive, for our own tools and the white-box unit tests.
HOSTED_LIB := $(BUILD)/lib/libcpupolicy-hosted.a

$(LIBSO_REAL): $(LIB_OBJS) $(CORE_OBJS) libcpupolicy/libcpupolicy.map
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD        $@")
	$(Q)$(CXX) -shared -Wl,-soname,$(LIBSO_SONAME) -Wl,--version-script=libcpupolicy/libcpupolicy.map \
	    -Wl,--no-undefined -o $@ $(LIB_OBJS) $(CORE_OBJS) $(LIB_LDLIBS) -ldl $(HOST_LDFLAGS)
	$(Q)ln -sf libcpupolicy.so.$(VERSION) $(BUILD)/lib/$(LIBSO_SONAME)
	$(Q)ln -sf $(LIBSO_SONAME) $(BUILD)/lib/libcpupolicy.so
$(LIBSO): $(LIBSO_REAL)

$(HOSTED_LIB): $(LIB_OBJS) $(CORE_OBJS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  AR        $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/lib/pkgconfig/cpupolicy.pc: libcpupolicy/cpupolicy.pc.in Makefile
	@mkdir -p $(@D)
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCDIR@|$(INCDIR)|g' -e 's|@VERSION@|$(VERSION)|g' $< > $@

all: $(LIBSO_REAL) $(HOSTED_LIB) $(BUILD)/lib/pkgconfig/cpupolicy.pc

INSTALL_HDRS += libcpupolicy/include/cpupolicy.h $(wildcard libcpupolicy/include/cpupolicy_sim.h) \
    libcpupolicy/include/cpupolicy_models.h \
    libcpupolicy/include/cpupolicy_toolstack.h

install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCDIR) $(DESTDIR)$(BINDIR)
	install -m 0755 $(LIBSO_REAL) $(DESTDIR)$(LIBDIR)/
	ln -sf libcpupolicy.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(LIBSO_SONAME)
	ln -sf $(LIBSO_SONAME) $(DESTDIR)$(LIBDIR)/libcpupolicy.so
	install -m 0644 $(INSTALL_HDRS) $(DESTDIR)$(INCDIR)/
	@# Generated here rather than copied: the prefix is the install's, not the build's.
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCDIR@|$(INCDIR)|g' \
	    -e 's|@VERSION@|$(VERSION)|g' libcpupolicy/cpupolicy.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/cpupolicy.pc
	$(if $(strip $(BINS)),install -m 0755 $(BINS) $(DESTDIR)$(BINDIR)/)

# Removes exactly what install put there (the shared library and its links, the public
# headers, the pkg-config file, the programs); the core archive and its headers are
# hypervisor/module.mk's, the daemon's files toolstack/cpupolicyd/module.mk's.
uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libcpupolicy.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(LIBSO_SONAME) \
	    $(DESTDIR)$(LIBDIR)/libcpupolicy.so $(DESTDIR)$(LIBDIR)/pkgconfig/cpupolicy.pc
	rm -f $(addprefix $(DESTDIR)$(INCDIR)/,$(notdir $(INSTALL_HDRS)))
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(BINS)))
