// SPDX-License-Identifier: MIT
// The speculation barrier for guest-controlled indices: array_index_nospec clamps an
// index to [0, size) without a branch the CPU could mispredict, for arrays read with an
// index a guest chose (Spectre v1; Xen's array_index_mask_nospec/array_access_nospec).
//
// Its own header (check.hpp includes it) so that inline guest-facing code in public
// headers (guest_cpuid.hpp) can clamp without pulling in the CHECK macro.
#pragma once

#include "cpupolicy/types.hpp"

namespace cpupolicy {

// ~0 when index < size, else 0, computed without a conditional branch: (index - size)
// has its top bit set exactly when index < size (both below 2^63), and an arithmetic
// shift spreads that bit.  The compiler cannot turn this into a branch it would predict,
// so a mispredicted bounds check before it cannot read out of bounds through it.
constexpr uint64_t index_mask_nospec(uint64_t index, uint64_t size)
{
    return static_cast<uint64_t>(static_cast<int64_t>(index - size) >> 63);
}
// index when index < size, else 0.  An empty array (size 0) has no safe index: CHECK
// that at the call site.
constexpr uint32_t array_index_nospec(uint32_t index, uint32_t size)
{
    if ( __builtin_is_constant_evaluated() )
        return static_cast<uint32_t>(index & index_mask_nospec(index, size));
#if defined(__x86_64__) || defined(__i386__)
    // Xen's array_index_mask_nospec: CMP sets CF exactly when index < size, SBB spreads it
    // into the mask.  The compiler sees neither, so it can neither fold the mask (it knows
    // index < size right after the caller's bounds check, and with a constant size would
    // drop a clamp written in C - g++ 12 did, for the leaf index of guest CPUID) nor turn
    // it into a branch.
    uint32_t mask;
    __asm__("cmp %[size], %[index]\n\tsbb %[mask], %[mask]"
            : [mask] "=r"(mask)
            : [size] "ir"(size), [index] "r"(index)
            : "cc");
    return index & mask;
#else
    // The same in C: the index is made opaque before the mask is computed (see above),
    // and the result after it, so that no branch on index < size is re-introduced.
    __asm__("" : "+r"(index));
    uint32_t r = static_cast<uint32_t>(index & index_mask_nospec(index, size));
    __asm__("" : "+r"(r));
    return r;
#endif
}

static_assert(array_index_nospec(0, 4) == 0 && array_index_nospec(3, 4) == 3 &&
              array_index_nospec(4, 4) == 0 && array_index_nospec(~0u, 4) == 0 &&
              array_index_nospec(0x80000000u, 0x80000001u) == 0x80000000u);

} // namespace cpupolicy
