// SPDX-License-Identifier: MIT
// Shared by the C ABI implementation files of libcpupolicy.
#pragma once

#include <errno.h>

#include "cpupolicy.h"
#include "cpupolicy/policy.hpp"

#define CPUPOLICY_EXPORT extern "C" __attribute__((visibility("default")))

// The opaque cpupolicy_t of the ABI: a core Policy and nothing else.
struct cpupolicy_impl {
    cpupolicy::Policy p;
};

namespace cpupolicy::abi {

// The ABI promises never to touch the caller's errno; functions that reach the C
// library (allocation, file I/O) keep it with one of these.
class ErrnoGuard {
public:
    ErrnoGuard() : saved_(errno) {}
    ~ErrnoGuard() { errno = saved_; }
    ErrnoGuard(const ErrnoGuard &) = delete;
    ErrnoGuard &operator=(const ErrnoGuard &) = delete;

private:
    int saved_;
};

inline void err_seed(cpupolicy_err_t *e)
{
    if ( e )
        e->leaf = e->subleaf = e->msr = ~0u;
}
inline void err_out(cpupolicy_err_t *e, const ErrRecord &r)
{
    if ( e )
    {
        e->leaf = r.leaf;
        e->subleaf = r.subleaf;
        e->msr = r.msr;
    }
}

} // namespace cpupolicy::abi
