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

// Words 16 and 17 are the halves of ARCH_CAPABILITIES, the only MSR carrying
// featureset words; the others are CPUID registers.
static uint32_t read_word(const Policy &p, const WordSource &src)
{
    if ( src.is_msr )
        return static_cast<uint32_t>(p.arch_caps >> (32 * src.subleaf));
    return reg(get(p, Leaf{src.leaf}, Subleaf{src.subleaf}), src.reg);
}

static void write_word(Policy &p, const WordSource &src, uint32_t val)
{
    if ( src.is_msr )
    {
        unsigned sh = 32 * src.subleaf;
        p.arch_caps = (p.arch_caps & ~(0xffffffffull << sh)) | (uint64_t{val} << sh);
        return;
    }
    Regs *r = at(p, Leaf{src.leaf}, Subleaf{src.subleaf});
    CHECK(r);  // every CPUID word of the feature table has a slot (compat.cpp asserts it)
    reg(*r, src.reg) = val;
}

Featureset policy_to_featureset(const Policy &p)
{
    Featureset fs;
    for ( unsigned i = 0; i < NR_FEATUREWORDS; ++i )
        fs.w[i] = read_word(p, table::words[i].src);
    return fs;
}

void policy_apply_featureset(Policy &p, const Featureset &fs)
{
    for ( unsigned i = 0; i < NR_FEATUREWORDS; ++i )
        write_word(p, table::words[i].src, fs.w[i]);
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
