#!/bin/sh
# Leaf, Subleaf and MsrIndex (hypervisor/core/include/cpupolicy/types.hpp) are distinct
# types in every core signature, so that swapping a leaf and a subleaf, or passing an
# MSR index (or a bare integer) where a leaf belongs, is a compile error.  Each row of
# the table compiles one statement against the core's public headers with the core's
# own flags; a row that must not compile has to fail with a type error (not with some
# other error, which would prove nothing), and the rows that must compile show that the
# harness itself builds.  A row marked "no" that compiles means the types have become
# interchangeable again.
set -u
. tests/scripts/lib.sh
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
CXX=${CXX:-g++}
CORE_FLAGS="-std=c++20 -ffreestanding -fno-exceptions -fno-rtti -Ihypervisor/core/include"

# try NAME yes|no STATEMENT
try()
{
    name=$1; want=$2; stmt=$3
    cat >"$tmp/t.cpp" <<EOF
#include "cpupolicy/compat.hpp"
#include "cpupolicy/hypervisor.hpp"
#include "cpupolicy/platform.hpp"
#include "cpupolicy/wire.hpp"
using namespace cpupolicy;
void probe(Policy &p, Hypervisor &hv, ErrRecord &e, GuestCpuidResult &out, GuestFault &gf,
           uint64_t &v, bool &b, uint32_t &u)
{
    (void)p; (void)hv; (void)e; (void)out; (void)gf; (void)v; (void)b; (void)u;
    $stmt;
}
EOF
    # shellcheck disable=SC2086
    if $CXX $CORE_FLAGS -fsyntax-only "$tmp/t.cpp" >"$tmp/err" 2>&1; then got=yes; else got=no; fi
    if [ "$got" = yes ] && [ "$want" = yes ]; then ok
    elif [ "$got" = yes ]; then bad "$name: compiles, so the types can be swapped: $stmt"
    elif [ "$want" = yes ]; then bad "$name: does not compile: $(grep -m1 error "$tmp/err")"
    elif grep -qE "cannot convert|could not convert|no match|no matching|invalid (conversion|operands)" "$tmp/err"; then ok
    else bad "$name: fails, but not with a type error: $(grep -m1 error "$tmp/err")"; fi
}

while IFS='|' read -r name want stmt; do
    name=$(echo "$name" | tr -d ' ')
    want=$(echo "$want" | tr -d ' ')
    case "$name" in ''|'#'*) continue ;; esac
    try "$name" "$want" "$stmt"
done <<'TABLE'
# name                                    | compiles | statement
right_types_read_a_policy_slot            | yes | b = get(p, 7_leaf, 0_subleaf) == Regs{} && slot_exact(0xd_leaf, 1_subleaf) >= 0
right_types_at_the_platform_seam          | yes | cpupolicy_plat_cpuid(Leaf{1}, kNoSubleaf, &out.regs); (void)cpupolicy_plat_rdmsr(MSR_ARCH_CAPABILITIES, &v)
right_types_at_the_guest_entry_points     | yes | (void)hv.hvm_cpuid_exit(1, 0, 0, 7_leaf, 0_subleaf, out); (void)hv.hvm_rdmsr(1, 0, 0xce_msr, &v, &gf)
right_types_read_back_as_integers         | yes | u = raw(7_leaf) + raw(e.subleaf) + raw(e.msr)
leaf_and_subleaf_swapped_in_get           | no  | get(p, 0_subleaf, 7_leaf)
leaf_and_subleaf_swapped_in_slot_exact    | no  | (void)slot_exact(1_subleaf, 0xd_leaf)
leaf_and_subleaf_swapped_in_policy_effective | no | policy_effective(p, 1_subleaf, 0xd_leaf)
leaf_and_subleaf_swapped_in_policy_in_range  | no | b = policy_in_range(p, kNoSubleaf, 1_leaf)
leaf_and_subleaf_swapped_at_the_seam      | no  | cpupolicy_plat_cpuid(0_subleaf, 7_leaf, &out.regs)
leaf_and_subleaf_swapped_in_a_cpuid_exit  | no  | (void)hv.hvm_cpuid_exit(1, 0, 0, 0_subleaf, 7_leaf, out)
leaf_and_subleaf_swapped_in_a_pv_fault    | no  | (void)hv.pv_gp_fault(1, 0, nullptr, 0, 0_subleaf, 7_leaf, out)
msr_index_passed_as_a_leaf                | no  | get(p, MSR_ARCH_CAPABILITIES)
leaf_passed_as_an_msr_index_at_the_seam   | no  | (void)cpupolicy_plat_rdmsr(0x10a_leaf, &v)
leaf_passed_as_an_msr_index_to_hvm_rdmsr  | no  | (void)hv.hvm_rdmsr(1, 0, 0xce_leaf, &v, &gf)
subleaf_passed_as_an_msr_index_to_wrmsr   | no  | (void)hv.hvm_wrmsr(1, 0, 0x140_subleaf, 0, &gf)
bare_integer_passed_as_a_leaf             | no  | get(p, 7)
bare_integer_passed_as_a_subleaf          | no  | get(p, 7_leaf, 0)
bare_integer_passed_as_an_msr_index       | no  | (void)cpupolicy_plat_wrmsr(0x140, 0)
leaf_stored_as_the_error_records_msr      | no  | e.msr = 0x10a_leaf
leaf_compared_with_a_subleaf              | no  | b = 7_leaf == 7_subleaf
leaf_converted_to_an_integer_silently     | no  | u = 7_leaf
TABLE

# Zero cost: each type is a uint32_t in size and alignment, trivially copyable, so it
# is passed in a register exactly like the integer (the wire structs keep their layout).
cat >"$tmp/z.cpp" <<'EOF'
#include "cpupolicy/wire.hpp"
using namespace cpupolicy;
static_assert(sizeof(Leaf) == 4 && sizeof(Subleaf) == 4 && sizeof(MsrIndex) == 4);
static_assert(alignof(Leaf) == 4 && alignof(Subleaf) == 4 && alignof(MsrIndex) == 4);
static_assert(__is_trivially_copyable(Leaf) && __is_trivially_copyable(Subleaf) &&
              __is_trivially_copyable(MsrIndex) && __is_trivially_copyable(ErrRecord));
static_assert(sizeof(ErrRecord) == 12 && sizeof(WireLeaf) == 24 && sizeof(WireMsr) == 16);
EOF
# shellcheck disable=SC2086
if $CXX $CORE_FLAGS -fsyntax-only "$tmp/z.cpp" >"$tmp/err" 2>&1; then ok
else bad "index types are not uint32_t-sized and trivially copyable: $(grep -m1 error "$tmp/err")"; fi

finish
