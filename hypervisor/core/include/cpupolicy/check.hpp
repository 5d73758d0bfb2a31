// SPDX-License-Identifier: MIT
// Invariants, checked.  Input gets an error code; an invariant - something the core's own
// code or a caller's contract guarantees - gets CHECK(cond), which reports the place
// through the platform seam (cpupolicy_plat_check_failed: the hypervisor panics, the
// simulator and the tests abort) instead of turning a bug into silent zeros (STYLE.md,
// after Hafnium's CHECK and Xen's ASSERT/BUG_ON).  Always on: the conditions are cheap.
//
// And the speculation barrier for guest-controlled indices: array_index_nospec clamps an
// index to [0, size) without a branch the CPU could mispredict, for arrays read with an
// index a guest chose (Spectre v1; Xen's array_index_mask_nospec/array_access_nospec).
//
// For the core's own sources: tests and userspace do not include it (CHECK is a common
// macro name).
#pragma once

#include "cpupolicy/platform.hpp"

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if ( !(cond) ) [[unlikely]]                                                   \
            cpupolicy_plat_check_failed(__FILE__, __LINE__, #cond);                   \
    } while ( 0 )

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
    uint32_t r = static_cast<uint32_t>(index & index_mask_nospec(index, size));
    // Keep the compiler from reasoning about r (and so from re-introducing a branch on
    // index < size): r is opaque from here on.
    if ( !__builtin_is_constant_evaluated() )
        __asm__("" : "+r"(r));
    return r;
}

static_assert(array_index_nospec(0, 4) == 0 && array_index_nospec(3, 4) == 3 &&
              array_index_nospec(4, 4) == 0 && array_index_nospec(~0u, 4) == 0 &&
              array_index_nospec(0x80000000u, 0x80000001u) == 0x80000000u);

} // namespace cpupolicy
