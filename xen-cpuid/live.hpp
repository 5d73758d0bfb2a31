// SPDX-License-Identifier: MIT
// xen-cpuid's live modes: what a running hypervisor reports, through libcpupolicy's C
// ABI (cpupolicy_open(URI): the embedded simulated hypervisor by default, a cpupolicyd
// with "unix:PATH", a real Xen with "xen:").  Output layouts follow Xen's
// tools/misc/xen-cpuid (dump_info, print_policy) where Xen has the mode; --diff and
// --levelling are ours and documented in xen-cpuid.1.
#pragma once

#include <stdint.h>

#include <string>
#include <vector>

#include "cpupolicy.h"

namespace xcpuid {

// Exit statuses shared with xen-cpuid.cpp (xen-cpuid.1, EXIT STATUS).
inline constexpr int kExitOk = 0;
inline constexpr int kExitUnknownWords = 1;  // decode: set bits beyond this build's words
inline constexpr int kExitDiffer = 1;        // --diff: the two operands differ
inline constexpr int kExitUsage = 2;         // bad usage, argument, URI: nothing printed
inline constexpr int kExitQuery = 3;         // the hypervisor refused a query

// A lazily opened connection.  open() reports a failure on stderr (naming the URI and
// cpupolicy_last_error()) and returns nullptr.
class Connection {
public:
    explicit Connection(std::string uri) : uri_(std::move(uri)) {}
    ~Connection();
    Connection(const Connection &) = delete;
    Connection &operator=(const Connection &) = delete;

    cpupolicy_handle_t *open();
    const std::string &uri() const { return uri_; }

private:
    std::string uri_;
    cpupolicy_handle_t *h_ = nullptr;
    bool tried_ = false;
};

// One dynamic set, fetched.  rc: 0, or the negative errno of cpupolicy_get_featureset.
struct DynamicSet {
    const char *name;
    int rc;
    std::vector<uint32_t> words;
};
// The six dynamic featuresets in Xen's featureset order (XEN_SYSCTL_cpu_featureset_*):
// Raw, Host, PV Default, HVM Default, PV Max, HVM Max.
std::vector<DynamicSet> fetch_dynamic_sets(cpupolicy_handle_t *h);

// -p/--policy: domid < 0 for the six system policies (policy order), else that domain.
int mode_policy(Connection &c, long domid);

// --levelling: the host's levelling capability bits, one line each.
int mode_masking(Connection &c);

// --diff A B (operand forms in xen-cpuid.1).
int mode_diff(Connection &c, const char *a, const char *b);

} // namespace xcpuid
