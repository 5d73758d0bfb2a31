// SPDX-License-Identifier: MIT
// Invariants, checked.  Input gets an error code; an invariant - something the core's own
// code or a caller's contract guarantees - gets CHECK(cond), which reports the place
// through the platform seam (cpupolicy_plat_check_failed: the hypervisor panics, the
// simulator and the tests abort) instead of turning a bug into silent zeros (STYLE.md,
// after Hafnium's CHECK and Xen's ASSERT/BUG_ON).  Always on: the conditions are cheap.
//
// And (nospec.hpp, included here) the speculation barrier for guest-controlled indices.
//
// For the core's own sources: tests and userspace do not include it (CHECK is a common
// macro name).
#pragma once

#include "cpupolicy/nospec.hpp"
#include "cpupolicy/platform.hpp"

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if ( !(cond) ) [[unlikely]]                                                   \
            cpupolicy_plat_check_failed(__FILE__, __LINE__, #cond);                   \
    } while ( 0 )

