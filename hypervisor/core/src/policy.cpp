// SPDX-License-Identifier: MIT
#include "cpupolicy/policy.hpp"
#include "cpupolicy/check.hpp"
#include "cpupolicy/features.hpp"

namespace cpupolicy {

const char *vendor_name(Vendor v)
{
    switch ( v ) {
    case Vendor::intel:    return "Intel";
    case Vendor::amd:      return "AMD";
    case Vendor::centaur:  return "Centaur";
    case Vendor::shanghai: return "Shanghai";
    case Vendor::hygon:    return "Hygon";
    default:               return "unknown";
    }
}

Vendor policy_vendor(const Policy &p)
{
    // Vendor signatures of CPUID leaf 0 in EBX, ECX, EDX (SDM vol. 2A CPUID; APM vol. 3).
    struct Sig { uint32_t b, c, d; Vendor v; };
    static constexpr Sig sigs[] = {
        {0x756e6547, 0x6c65746e, 0x49656e69, Vendor::intel},    // "GenuineIntel"
        {0x68747541, 0x444d4163, 0x69746e65, Vendor::amd},      // "AuthenticAMD"
        {0x746e6543, 0x736c7561, 0x48727561, Vendor::centaur},  // "CentaurHauls"
        {0x68532020, 0x20206961, 0x68676e61, Vendor::shanghai}, // "  Shanghai  "
        {0x6f677948, 0x656e6975, 0x6e65476e, Vendor::hygon},    // "HygonGenuine"
    };
    Regs l0 = get(p, Leaf{0});
    for ( const auto &s : sigs )
        if ( l0.b == s.b && l0.c == s.c && l0.d == s.d )
            return s.v;
    return Vendor::unknown;
}

namespace {
// Where each featureset word lives, resolved at compile time: a slot and the register
// as a member pointer (a load at a constant offset), or a half of ARCH_CAPABILITIES.
// read_word() would redo the (leaf, subleaf) -> slot lookup and branch on the register
// for every word.
struct WordLoc {
    int16_t slot;              // -1: MSR word
    uint8_t msr_shift;
    uint32_t Regs::*reg;
};
constexpr uint32_t Regs::*reg_member(Reg which)
{
    switch ( which ) {
    case Reg::eax: return &Regs::a;
    case Reg::ebx: return &Regs::b;
    case Reg::ecx: return &Regs::c;
    default:       return &Regs::d;
    }
}
struct WordLocs {
    WordLoc w[NR_FEATUREWORDS];
};
constexpr WordLocs make_word_locs()
{
    WordLocs t{};
    for ( unsigned i = 0; i < NR_FEATUREWORDS; ++i )
    {
        const WordSource &src = table::words[i].src;
        t.w[i] = WordLoc{static_cast<int16_t>(src.is_msr ? -1 : slot_exact(src.leaf, src.subleaf)),
                         static_cast<uint8_t>(src.is_msr ? 32 * src.half : 0), reg_member(src.reg)};
    }
    return t;
}
constexpr WordLocs word_locs = make_word_locs();
constexpr bool every_cpuid_word_has_a_slot()
{
    for ( unsigned i = 0; i < NR_FEATUREWORDS; ++i )
        if ( !table::words[i].src.is_msr && word_locs.w[i].slot < 0 )
            return false;
    return true;
}
static_assert(every_cpuid_word_has_a_slot(), "a featureset word names a leaf the policy does not hold");
} // namespace

Featureset policy_to_featureset(const Policy &p)
{
    Featureset fs;
    // Unrolled, every location is a constant: 19 loads at fixed offsets.
#pragma GCC unroll 32
    for ( unsigned i = 0; i < NR_FEATUREWORDS; ++i )
    {
        const WordLoc &l = word_locs.w[i];
        fs.w[i] = l.slot < 0 ? static_cast<uint32_t>(p.arch_caps >> l.msr_shift) : p.slot[l.slot].*l.reg;
    }
    return fs;
}

void policy_apply_featureset(Policy &p, const Featureset &fs)
{
    // Words 16 and 17 are the halves of ARCH_CAPABILITIES, the only MSR carrying
    // featureset words; the others are CPUID registers.  Unrolled as above.
#pragma GCC unroll 32
    for ( unsigned i = 0; i < NR_FEATUREWORDS; ++i )
    {
        const WordLoc &l = word_locs.w[i];
        if ( l.slot < 0 )
            p.arch_caps = (p.arch_caps & ~(0xffffffffull << l.msr_shift)) |
                          (uint64_t{fs.w[i]} << l.msr_shift);
        else
            p.slot[l.slot].*l.reg = fs.w[i];
    }
    policy_mirror_common_1d(p);
}

void policy_mirror_common_1d(Policy &p)
{
    if ( !vendor_is_amd_like(policy_vendor(p)) )
        return;
    Regs *e1 = at(p, Leaf{0x80000001u});
    CHECK(e1);
    e1->d = (e1->d & ~features::COMMON_1D) | (get(p, Leaf{1}).d & features::COMMON_1D);
}

} // namespace cpupolicy
