# The layers (docs/layers.md), enforced by include paths.  Every folder that holds
# sources is one module below; a module is compiled with ONLY
#   - its own folder (its private headers),
#   - the exported header folders of the modules listed in its USES.
# USES is written out transitively (a header of a used module may include a header of a
# module that one uses).  An arrow may only point to a lower layer (or, within L1, to a
# piece listed before it); a header reached against the arrows is not on the include
# path, so the compile fails.  tests/scripts/test_layers.sh proves it with a table of
# includes that must and must not compile, and check-layers refuses parent-relative
# includes ("../"), which would walk around the include paths.
#
#   module      layer  sources (and private headers)   exports (others may include)
#   core        L0     hypervisor/core/src             hypervisor/core/include
#   import      L1     libcpupolicy/import             libcpupolicy/import
#   protocol    L1     libcpupolicy/protocol           libcpupolicy/protocol
#   sim         L1     hypervisor/sim                  hypervisor/sim
#   models      L1     libcpupolicy/models             libcpupolicy/models (libxml2)
#   store       L1     libcpupolicy/store              libcpupolicy/store (SQLite)
#   lib         L2     libcpupolicy/src                libcpupolicy/include (public, installed)
#                                                      libcpupolicy/internal (our tools only)
#   xencpuid    L3     xen-cpuid
#   cpupolicy   L3     toolstack/cpupolicy
#   cpupolicyd  L3     toolstack/cpupolicyd
#   tests, docs        white-box: everything, including the library's private headers

LAYER_MODULES := core import protocol sim models store lib xencpuid cpupolicy cpupolicyd docs tests

core.dir       := hypervisor/core/src
core.exports   := hypervisor/core/include
core.uses      :=

import.dir     := libcpupolicy/import
import.exports := libcpupolicy/import
import.uses    := core

protocol.dir     := libcpupolicy/protocol
protocol.exports := libcpupolicy/protocol
protocol.uses    := core

sim.dir        := hypervisor/sim
sim.exports    := hypervisor/sim
sim.uses       := core import

# Named CPU models: libvirt's CPU map and our model files (libxml2); the schema is
# embedded from a generated file in $(BUILD)/gen/models.
models.dir     := libcpupolicy/models
models.exports := libcpupolicy/models
models.extra   := $(BUILD)/gen/models
models.uses    := core

# The toolstack's store: rows and transactions in SQLite; policies are opaque text to it,
# so it needs nothing of the core.
store.dir      := libcpupolicy/store
store.exports  := libcpupolicy/store
store.uses     :=

lib.dir        := libcpupolicy/src
lib.exports    := libcpupolicy/include libcpupolicy/internal
lib.uses       := core import protocol sim models store

xencpuid.dir   := xen-cpuid
xencpuid.uses  := core lib

cpupolicy.dir  := toolstack/cpupolicy
cpupolicy.uses := core lib

# The daemon is the hypervisor's side of the protocol: it boots the simulated machine
# and serves it, so it uses the L1 pieces as well as the library's internal API.
cpupolicyd.dir  := toolstack/cpupolicyd
cpupolicyd.uses := core import protocol sim lib

docs.dir       := docs
docs.uses      := core

tests.dir      := tests
tests.uses     := core import protocol sim models store lib
tests.extra    := libcpupolicy/src tests/unit tests/check tests/fuzz

# -I flags of a module: its own folder and exports, then what it may use.
layer_includes = $(addprefix -I,$($(1).dir) $($(1).exports) $($(1).extra) $(foreach u,$($(1).uses),$($(u).exports)))

# Each module's objects get its own include list (target-specific, so one generic
# compile rule serves all).  A source outside every module gets no project include
# path at all, and fails to compile: a new folder must be added here.
# (The fuzz build, tests/fuzz/module.mk, compiles the same sources under $(BUILD)/fuzz/obj.)
$(foreach m,$(LAYER_MODULES),$(eval $$(BUILD)/obj/$($(m).dir)/%.o: LAYER_INC = $$(call layer_includes,$(m))))
$(foreach m,$(LAYER_MODULES),$(eval $$(BUILD)/fuzz/obj/$($(m).dir)/%.o: LAYER_INC = $$(call layer_includes,$(m))))

.PHONY: print-layer-includes
# `make print-layer-includes LAYER=sim`: the include flags a module compiles with
# (tests/scripts/test_layers.sh).
print-layer-includes:
	@echo $(call layer_includes,$(LAYER))

.PHONY: check-layers
check-layers:
	@echo "  CHECK     layers: no parent-relative includes"
	$(Q)! grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]*\.\./' \
	    $(foreach m,$(LAYER_MODULES),$($(m).dir)) $(core.exports) $(lib.exports) \
	    --include='*.c' --include='*.h' --include='*.cpp' --include='*.hpp' \
	    || { echo "check-layers: a parent-relative #include walks around the layers" >&2; false; }
