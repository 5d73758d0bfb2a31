// SPDX-License-Identifier: MIT
// cpupolicy_last_error(), cpupolicy_version() and the ABI boundary helper (api.hpp, Call).
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <string_view>

#include "api.hpp"
#include "printable.hpp"

namespace cpupolicy::abi {
namespace {

// The message of this thread's last failed call; a fixed buffer, so that reporting an
// error never allocates.  detail_set says whether the implementation left a precise one.
thread_local char message[ERROR_MAX];
thread_local bool detail_set;

// strerror without the global buffer (GNU strerror_r returns the string to use).
const char *errno_text(int e, char *buf, size_t len)
{
    return strerror_r(e, buf, len);
}

} // namespace

const char *last_error()
{
    return message;
}

// Messages quote what the caller gave (a URI, a file name, boot options, a line of a
// dump): escaped here, where every detail becomes the caller's message, so that no
// control character reaches a terminal or a log through cpupolicy_last_error().
void detail(const char *fmt, ...)
{
    thread_local char raw[ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : std::min(static_cast<size_t>(n), sizeof(raw) - 1);
    printable_into(message, sizeof(message), std::string_view(raw, len));
    detail_set = true;
}

Call::Call(const char *fn) : fn_(fn)
{
    message[0] = '\0';
    detail_set = false;
}

int Call::done(int rc)
{
    if ( rc >= 0 )
    {
        message[0] = '\0';
        return rc;
    }
    char ebuf[128];
    const char *what = errno_text(-rc, ebuf, sizeof(ebuf));
    // A precise detail stands alone (the importer's "FILE:LINE: what", the URI's
    // "xen: ..."), as the 1.0 messages did; otherwise "FUNCTION: strerror".
    if ( detail_set )
        return rc;
    size_t nf = strnlen(fn_, sizeof(message) - 3);
    memcpy(message, fn_, nf);
    memcpy(message + nf, ": ", 2);
    size_t nd = strnlen(what, sizeof(message) - nf - 3);
    memcpy(message + nf + 2, what, nd);
    message[nf + 2 + nd] = '\0';
    return rc;
}

int Call::done(int rc, const cpupolicy_err_t *err)
{
    if ( rc >= 0 || detail_set || !err || (err->leaf == ~0u && err->msr == ~0u) )
        return done(rc);
    char ebuf[128];
    const char *what = errno_text(-rc, ebuf, sizeof(ebuf));
    if ( err->msr != ~0u )
        detail("%s: MSR %#x: %s", fn_, err->msr, what);
    else if ( err->subleaf != ~0u )
        detail("%s: leaf %#x subleaf %#x: %s", fn_, err->leaf, err->subleaf, what);
    else
        detail("%s: leaf %#x: %s", fn_, err->leaf, what);
    return done(rc);
}

int Call::done_feature(int rc, const uint32_t *bad_feature)
{
    if ( rc >= 0 || detail_set || !bad_feature || *bad_feature == ~0u )
        return done(rc);
    char ebuf[128];
    const char *name = cpupolicy_feature_name(*bad_feature);
    detail("%s: feature %u (%s): %s", fn_, *bad_feature, name ? name : "unnamed",
           errno_text(-rc, ebuf, sizeof(ebuf)));
    return done(rc);
}

int Call::done_index(int rc, const uint32_t *bad_index)
{
    if ( rc >= 0 || detail_set || !bad_index || *bad_index == ~0u )
        return done(rc);
    char ebuf[128];
    detail("%s: input %u: %s", fn_, *bad_index, errno_text(-rc, ebuf, sizeof(ebuf)));
    return done(rc);
}

} // namespace cpupolicy::abi

using namespace cpupolicy;

CPUPOLICY_EXPORT uint32_t cpupolicy_version(void) noexcept
{
    return CPUPOLICY_VERSION;
}

CPUPOLICY_EXPORT const char *cpupolicy_last_error(void) noexcept
{
    return abi::last_error();
}

// Deprecated (CPUPOLICY_1.0): the one message serves both.
CPUPOLICY_EXPORT const char *cpupolicy_last_import_error(void) noexcept
{
    return abi::last_error();
}

CPUPOLICY_EXPORT const char *cpupolicy_last_open_error(void) noexcept
{
    return abi::last_error();
}
