// SPDX-License-Identifier: MIT
// Shared by the C ABI implementation files of libcpupolicy.
#pragma once

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "cpupolicy.h"
#include "cpupolicy/policy.hpp"

#define CPUPOLICY_EXPORT extern "C" __attribute__((visibility("default")))

// The opaque cpupolicy_t of the ABI: a core Policy and nothing else.
struct cpupolicy_policy {
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

// --- cpupolicy_last_error() -------------------------------------------------------------
// One message per thread, in a fixed buffer (no allocation: the error path cannot fail).
// Every fallible exported function is a thin wrapper (see api_*.cpp, "ABI boundary")
// around its implementation: Call clears the message on entry; the implementation may
// leave a precise one with detail() (the importer's FILE:LINE, the URI problem), which
// then stands alone; otherwise, on a negative return, done() writes "FUNCTION: " + the
// error record / bad feature / bad index it can see + strerror.
inline constexpr size_t ERROR_MAX = 512;
const char *last_error();
// printf-style detail for the current call's failure (truncated to ERROR_MAX).
[[gnu::format(printf, 1, 2)]] void detail(const char *fmt, ...);

class Call {
public:
    explicit Call(const char *fn);
    Call(const Call &) = delete;
    Call &operator=(const Call &) = delete;
    int done(int rc);
    int done(int rc, const cpupolicy_err_t *err);
    int done_feature(int rc, const uint32_t *bad_feature);
    int done_index(int rc, const uint32_t *bad_index);

private:
    const char *fn_;
    ErrnoGuard guard_;  // strerror_r and friends must not touch the caller's errno
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
        e->leaf = raw(r.leaf);
        e->subleaf = raw(r.subleaf);
        e->msr = raw(r.msr);
    }
}

} // namespace cpupolicy::abi
