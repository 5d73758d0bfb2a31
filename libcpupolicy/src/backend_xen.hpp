// SPDX-License-Identifier: MIT
// The "xen:" backend: a real Xen, through Debian's libxenctrl / libxenguest (4.17 API).
//
// The Xen libraries are loaded with dlopen() when a "xen:" handle is opened, never
// linked: libcpupolicy.so must load and work (embedded / unix backends) on machines
// without Xen's libraries, and a Xen-less machine must get -ENODEV with a reason
// instead of a crash or libxc's own messages on stderr.
//
// Mapping (hypervisor.hpp semantics on the left, libxc on the right):
//   get_featureset        xc_get_cpu_featureset (same index order, same -ENOBUFS rule)
//   get_system_policy     xc_cpu_policy_get_system + xc_cpu_policy_serialise, then our
//                         policy_deserialise (the wire structs are Xen's, wire.hpp)
//   get_levelling_caps    xc_get_cpu_levelling_caps (the same public bit numbers)
//   featureset_fits_max     computed here from xc_get_cpu_featureset(idx): Xen has no
//                         hypercall for it (libxl checks in the toolstack too)
//   get_domain_policy     xc_cpu_policy_get_domain + serialise + policy_deserialise
//   set_domain_policy     policy_serialise, then xc_set_domain_cpu_policy, whose
//                         err_leaf / err_subleaf / err_msr fill our ErrRecord
//   set_featureset        get_domain_policy, apply the featureset with its dependency
//                         closure and recompute leaf 0xd here (as the embedded hypervisor
//                         does), then set_domain_policy: Xen checks it against the
//                         domain's max policy itself
//   domain_create/start/destroy   -EOPNOTSUPP.  On Xen a domain is created by a
//                         toolstack through libxl (memory, vCPUs, devices, the domain
//                         builder); XEN_DOMCTL_createdomain alone makes an empty shell
//                         that nothing here could finish, so it is not offered.
// libxc reports failure as -1 with errno set; every call here returns -errno instead.
#pragma once

#include <memory>
#include <string>

#include "backend.hpp"

namespace cpupolicy {

// Sonames tried, in order, for each library.  The versioned name first: libxenctrl's
// ABI is not stable across Xen releases, and the xc_cpu_policy_* calls used here are
// the 4.17 ones; the unversioned name is what a libxen-dev install (or a local Xen
// build) provides.
struct XenLibNames {
    const char *ctrl[3] = {"libxenctrl.so.4.17", "libxenctrl.so", nullptr};
    const char *guest[3] = {"libxenguest.so.4.17", "libxenguest.so", nullptr};
};

// Open the "xen:" backend.  `opts` is what follows "xen:" in the URI (must be empty).
// 0; -EINVAL for options; -ENODEV when the libraries cannot be loaded or lack a symbol,
// or when xc_interface_open() fails (no Xen running, not dom0, not root) - `why` says
// which, with libxc's own message where it gave one.
[[nodiscard]] int xen_backend_open(std::unique_ptr<Backend> &out, const char *opts,
                                   std::string &why, const XenLibNames &names = XenLibNames{});

} // namespace cpupolicy
