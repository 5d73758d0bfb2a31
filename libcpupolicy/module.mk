# libcpupolicy/: the C ABI library.  Hosted C++ over the same core objects, plus the
# simulated hypervisor (hypervisor/sim/) that the embedded backend boots in-process.
LIB_SRCS += $(wildcard libcpupolicy/src/*.cpp)
SIM_SRCS := $(wildcard hypervisor/sim/*.cpp)
# The simulator's headers (sim.hpp, sim_cpu.hpp) for the library and the white-box tests.
HOST_CXXFLAGS += -Ihypervisor/sim
LIB_OBJS  = $(patsubst %.cpp,$(BUILD)/obj/%.o,$(LIB_SRCS) $(SIM_SRCS))

LIB_LDLIBS := $(shell pkg-config --libs libxml-2.0 2>/dev/null)
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
	    -Wl,--no-undefined -o $@ $(LIB_OBJS) $(CORE_OBJS) $(LIB_LDLIBS) -ldl
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
    libcpupolicy/include/cpupolicy_models.h

install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCDIR) $(DESTDIR)$(BINDIR)
	install -m 0755 $(LIBSO_REAL) $(DESTDIR)$(LIBDIR)/
	ln -sf libcpupolicy.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(LIBSO_SONAME)
	ln -sf $(LIBSO_SONAME) $(DESTDIR)$(LIBDIR)/libcpupolicy.so
	install -m 0644 $(INSTALL_HDRS) $(DESTDIR)$(INCDIR)/
	@# Generated here rather than copied: the prefix is the install's, not the build's.
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCDIR@|$(INCDIR)|g' \
	    -e 's|@VERSION@|$(VERSION)|g' libcpupolicy/cpupolicy.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/cpupolicy.pc
	install -m 0644 $(CORE_LIB) $(DESTDIR)$(LIBDIR)/
	$(if $(strip $(BINS)),install -m 0755 $(BINS) $(DESTDIR)$(BINDIR)/)
