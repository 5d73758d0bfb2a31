// SPDX-License-Identifier: MIT
// What a cpupolicy_handle_t talks to.  One interface, one implementation per way of
// reaching a hypervisor:
//   embedded  (uri NULL, "", "sim:dump=PATH[,cpus=N][,boot=OPTS]")  - the simulated
//             hypervisor booted in-process (backend_embedded.cpp);
//   unix      ("unix:PATH")  - a cpupolicyd serving one simulated host (backend_unix.cpp);
//   xen       ("xen:")       - a real Xen through libxenctrl/libxenguest (backend_xen.cpp).
// Every call has the hypercall's semantics (hypervisor/core/include/cpupolicy/hypervisor.hpp):
// 0 or a negative errno, the error record filled as the core fills it.  The caller is
// the control domain (a toolstack runs there).
#pragma once

#include <memory>
#include <string>

#include "cpupolicy/hypervisor.hpp"
#include "cpupolicy/policy.hpp"

namespace cpupolicy {

class Backend {
public:
    virtual ~Backend() = default;

    // Short name for messages: "embedded", "unix", "xen".
    virtual const char *kind() const = 0;

    [[nodiscard]] virtual int get_featureset(unsigned idx, uint32_t *nr, uint32_t *fs) = 0;
    [[nodiscard]] virtual int get_system_policy(unsigned idx, Policy &out) = 0;
    [[nodiscard]] virtual int get_levelling_caps(uint32_t *caps) = 0;
    [[nodiscard]] virtual int featureset_fits_max(unsigned idx, const uint32_t *fs, uint32_t nr,
                                  uint32_t *bad_feature) = 0;

    [[nodiscard]] virtual int domain_create(unsigned type, uint32_t *domid) = 0;
    [[nodiscard]] virtual int domain_start(uint32_t domid) = 0;
    [[nodiscard]] virtual int domain_destroy(uint32_t domid) = 0;
    [[nodiscard]] virtual int get_domain_policy(uint32_t domid, Policy &out) = 0;
    [[nodiscard]] virtual int set_domain_policy(uint32_t domid, const Policy &p, ErrRecord *err) = 0;
    [[nodiscard]] virtual int set_featureset(uint32_t domid, const uint32_t *fs, uint32_t nr,
                               ErrRecord *err) = 0;
};

// Parse `uri` and open the matching backend.  0, or -EINVAL for a malformed URI
// (`why` says what), -ENOENT for a dump that cannot be read, -ENODEV for "xen:" where no
// Xen runs, -ECONNREFUSED etc. for a daemon that cannot be reached.
[[nodiscard]] int backend_open(std::unique_ptr<Backend> &out, const char *uri, std::string &why);

} // namespace cpupolicy
