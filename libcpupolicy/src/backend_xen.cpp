// SPDX-License-Identifier: MIT
// The "xen:" backend (backend_xen.hpp has the call mapping and why the libraries are
// loaded with dlopen()).
#include "backend_xen.hpp"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <vector>

#include "api.hpp"
#include "cpupolicy/features.hpp"
#include "cpupolicy/featureset.hpp"
#include "cpupolicy/wire.hpp"

namespace cpupolicy {
namespace {

// --- The slice of libxenctrl / libxenguest 4.17 used here ------------------------------
// Prototypes as in xenctrl.h / xenguest.h / xentoollog.h of Xen 4.17.  Those headers
// cannot be included in C++ (xen/hvm/save.h refuses anonymous unions outside GNU C),
// so the handful of types is restated: xc_interface and xc_cpu_policy_t are opaque,
// xen_cpuid_leaf_t / xen_msr_entry_t are WireLeaf / WireMsr (wire.hpp pins the layout).

// struct xentoollog_logger: three function pointers, level is an enum (int).
struct XtlLogger {
    void (*vmessage)(XtlLogger *, int level, int errnoval, const char *context,
                     const char *format, va_list al);
    void (*progress)(XtlLogger *, const char *context, const char *doing_what, int percent,
                     unsigned long done, unsigned long total);
    void (*destroy)(XtlLogger *);
};
constexpr int XTL_WARN = 7;  // xentoollog_level: NONE DEBUG VERBOSE DETAIL PROGRESS INFO NOTICE WARN

using xc_interface_open_fn = void *(*)(XtlLogger *logger, XtlLogger *dombuild_logger,
                                       unsigned open_flags);
using xc_interface_close_fn = int (*)(void *xch);
using xc_get_cpu_featureset_fn = int (*)(void *xch, uint32_t index, uint32_t *nr_features,
                                         uint32_t *featureset);
using xc_get_cpu_levelling_caps_fn = int (*)(void *xch, uint32_t *caps);
using xc_cpu_policy_init_fn = void *(*)();
using xc_cpu_policy_destroy_fn = void (*)(void *policy);
using xc_cpu_policy_get_system_fn = int (*)(void *xch, unsigned policy_idx, void *policy);
using xc_cpu_policy_get_domain_fn = int (*)(void *xch, uint32_t domid, void *policy);
using xc_cpu_policy_serialise_fn = int (*)(void *xch, const void *policy, WireLeaf *leaves,
                                           uint32_t *nr_leaves, WireMsr *msrs,
                                           uint32_t *nr_msrs);
using xc_cpu_policy_get_size_fn = int (*)(void *xch, uint32_t *nr_leaves, uint32_t *nr_msrs);
using xc_set_domain_cpu_policy_fn = int (*)(void *xch, uint32_t domid, uint32_t nr_leaves,
                                            WireLeaf *leaves, uint32_t nr_msrs, WireMsr *msrs,
                                            uint32_t *err_leaf_p, uint32_t *err_subleaf_p,
                                            uint32_t *err_msr_p);

struct XenLib {
    void *ctrl = nullptr, *guest = nullptr;
    xc_interface_open_fn interface_open = nullptr;
    xc_interface_close_fn interface_close = nullptr;
    xc_get_cpu_featureset_fn get_cpu_featureset = nullptr;
    xc_get_cpu_levelling_caps_fn get_cpu_levelling_caps = nullptr;
    xc_cpu_policy_init_fn policy_init = nullptr;
    xc_cpu_policy_destroy_fn policy_destroy = nullptr;
    xc_cpu_policy_get_system_fn policy_get_system = nullptr;
    xc_cpu_policy_get_domain_fn policy_get_domain = nullptr;
    xc_cpu_policy_serialise_fn policy_serialise = nullptr;
    xc_cpu_policy_get_size_fn policy_get_size = nullptr;
    xc_set_domain_cpu_policy_fn set_domain_cpu_policy = nullptr;

    ~XenLib()
    {
        if ( guest )
            dlclose(guest);
        if ( ctrl )
            dlclose(ctrl);
    }
};

// libxc's messages (e.g. "Could not obtain handle on privileged command interface: No
// such file or directory") go here instead of stderr: the last warning or error is kept
// for cpupolicy_last_error().  Standard layout, so libxc's XtlLogger * is ours.
struct QuietLogger {
    XtlLogger vt;
    char last[256];
};
static_assert(offsetof(QuietLogger, vt) == 0);

void quiet_vmessage(XtlLogger *l, int level, int errnoval, const char *context,
                    const char *format, va_list al)
{
    if ( level < XTL_WARN )
        return;
    QuietLogger *q = reinterpret_cast<QuietLogger *>(l);
    int n = snprintf(q->last, sizeof(q->last), "%s%s", context ? context : "",
                     context ? ": " : "");
    if ( n < 0 || size_t(n) >= sizeof(q->last) )
        return;
    int m = vsnprintf(q->last + n, sizeof(q->last) - size_t(n), format, al);
    if ( m < 0 )
        return;
    size_t used = strlen(q->last);
    if ( errnoval >= 0 && used < sizeof(q->last) )
        snprintf(q->last + used, sizeof(q->last) - used, ": %s", strerror(errnoval));
}
void quiet_progress(XtlLogger *, const char *, const char *, int, unsigned long, unsigned long) {}
void quiet_destroy(XtlLogger *) {}  // owned by the backend, not by libxc

int neg_errno()
{
    return errno > 0 ? -errno : -EIO;
}

// Our Policy from Xen's serialised form.  An entry our policy object does not hold
// (a newer Xen's leaf) is dropped when it is all zero - Xen serialises every leaf up to
// its max, set or not - and refused with -ERANGE when it carries data, so a policy is
// never silently truncated.
int policy_from_wire(Policy &out, std::vector<WireLeaf> leaves, std::vector<WireMsr> msrs)
{
    for ( ;; )
    {
        Policy p{};
        ErrRecord e;
        int rc = policy_deserialise(p, leaves.data(), uint32_t(leaves.size()), msrs.data(),
                                    uint32_t(msrs.size()), &e);
        if ( rc == 0 )
        {
            out = p;
            return 0;
        }
        if ( rc != -ERANGE )
            return rc;
        bool dropped = false;
        for ( size_t i = 0; i < leaves.size() && !dropped; ++i )
        {
            const WireLeaf &l = leaves[i];
            if ( Leaf{l.leaf} == e.leaf && Subleaf{l.subleaf} == e.subleaf &&
                 e.msr == MsrIndex{~0u} && !l.a && !l.b && !l.c && !l.d )
            {
                leaves.erase(leaves.begin() + ptrdiff_t(i));
                dropped = true;
            }
        }
        for ( size_t i = 0; i < msrs.size() && !dropped; ++i )
            if ( MsrIndex{msrs[i].idx} == e.msr && !msrs[i].val )
            {
                msrs.erase(msrs.begin() + ptrdiff_t(i));
                dropped = true;
            }
        if ( !dropped )
            return rc;
    }
}

class XenBackend final : public Backend {
public:
    XenBackend(std::unique_ptr<XenLib> lib, std::unique_ptr<QuietLogger> log, void *xch)
        : lib_(std::move(lib)), log_(std::move(log)), xch_(xch)
    {
    }
    ~XenBackend() override
    {
        abi::ErrnoGuard g;
        lib_->interface_close(xch_);
    }

    const char *kind() const override { return "xen"; }

    int get_featureset(unsigned idx, uint32_t *nr, uint32_t *fs) override
    {
        abi::ErrnoGuard g;
        if ( idx >= NR_FEATURESET_INDEX || !nr )
            return -EINVAL;
        // Same index order (XEN_SYSCTL_cpu_featureset_*) and the same contract: NULL
        // asks for the size, a short buffer gets what fits and -ENOBUFS.
        if ( lib_->get_cpu_featureset(xch_, idx, nr, fs) )
            return neg_errno();
        return 0;
    }

    int get_system_policy(unsigned idx, Policy &out) override
    {
        abi::ErrnoGuard g;
        if ( idx >= NR_POLICY_INDEX )
            return -EINVAL;
        return read_policy([&](void *p) { return lib_->policy_get_system(xch_, idx, p); }, out);
    }

    int get_levelling_caps(uint32_t *caps) override
    {
        abi::ErrnoGuard g;
        if ( !caps )
            return -EINVAL;
        return lib_->get_cpu_levelling_caps(xch_, caps) ? neg_errno() : 0;
    }

    // The embedded hypervisor's rule (featureset_fits_max, features.hpp), against the
    // featureset Xen reports for idx: the lowest feature fs has that the set lacks, or
    // whose prerequisite fs lacks.
    int featureset_fits_max(unsigned idx, const uint32_t *words, uint32_t nr,
                          uint32_t *bad_feature) override
    {
        if ( idx >= NR_FEATURESET_INDEX || (!words && nr) )
            return -EINVAL;
        Featureset fs;
        if ( int rc = featureset_from_words(fs, words, nr) )
            return rc;
        uint32_t xw[NR_FEATUREWORDS] = {};
        uint32_t xnr = NR_FEATUREWORDS;
        // -ENOBUFS: a newer Xen has more words; ours are all that fs can name.
        int rc = get_featureset(idx, &xnr, xw);
        if ( rc && rc != -ENOBUFS )
            return rc;
        Featureset set;
        if ( (rc = featureset_from_words(set, xw, xnr)) )
            return rc;
        return cpupolicy::featureset_fits_max(fs, set, bad_feature);
    }

    int domain_create(unsigned, uint32_t *) override { return -EOPNOTSUPP; }
    int domain_start(uint32_t) override { return -EOPNOTSUPP; }
    int domain_destroy(uint32_t) override { return -EOPNOTSUPP; }

    int get_domain_policy(uint32_t domid, Policy &out) override
    {
        abi::ErrnoGuard g;
        return read_policy([&](void *p) { return lib_->policy_get_domain(xch_, domid, p); },
                           out);
    }

    int set_domain_policy(uint32_t domid, const Policy &p, ErrRecord *err) override
    {
        abi::ErrnoGuard g;
        if ( err )
            *err = ErrRecord{};
        uint32_t nr_leaves = 0, nr_msrs = 0;
        if ( int rc = policy_serialise(p, nullptr, &nr_leaves, nullptr, &nr_msrs) )
            return rc;
        std::vector<WireLeaf> leaves(nr_leaves);
        std::vector<WireMsr> msrs(nr_msrs);
        if ( int rc = policy_serialise(p, leaves.data(), &nr_leaves, msrs.data(), &nr_msrs) )
            return rc;
        // XEN_DOMCTL_set_cpu_policy loads the buffer onto the domain's current policy
        // (update_domain_cpu_policy), so an entry left out keeps its old value.  Xen's
        // own serialiser always lists both hypervisor limits (0x40000000 hv_limit,
        // 0x40000100 hv2_limit); ours leaves a zero limit out, which Xen would read as
        // "unchanged" - a domain once given hvm-max's Viridian limit would keep it.
        // So a zero limit is sent explicitly.  (Found by the conformance suite against
        // tests/xen-stub with STUB_XEN_SIM, which merges as Xen does.)
        leaves.resize(nr_leaves);
        for ( uint32_t hv : {HV_LEAF, HV2_LEAF} )
        {
            auto at = leaves.begin();
            while ( at != leaves.end() && at->leaf < hv )
                ++at;
            if ( at == leaves.end() || at->leaf != hv )
                leaves.insert(at, WireLeaf{hv, NO_SUBLEAF, 0, 0, 0, 0});
        }
        nr_leaves = uint32_t(leaves.size());
        // Xen seeds these to ~0 and fills the offending entry (XEN_DOMCTL_set_cpu_policy).
        uint32_t el = ~0u, es = ~0u, em = ~0u;
        errno = 0;
        if ( lib_->set_domain_cpu_policy(xch_, domid, nr_leaves, leaves.data(), nr_msrs,
                                         msrs.data(), &el, &es, &em) )
        {
            int rc = neg_errno();
            if ( err )
                *err = ErrRecord{Leaf{el}, Subleaf{es}, MsrIndex{em}};
            return rc;
        }
        return 0;
    }

    // As Hypervisor::set_featureset (policy_apply_guest_featureset): missing
    // prerequisites take their dependents with them, bits the table does not know are
    // left for Xen's max check to judge, and leaf 0xd follows the features.  The layout
    // source is the HVM max policy: it enumerates every component the host offers any
    // guest, and Xen itself then checks the result against the domain type's own max.
    int set_featureset(uint32_t domid, const uint32_t *words, uint32_t nr,
                       ErrRecord *err) override
    {
        if ( err )
            *err = ErrRecord{};
        if ( !words && nr )
            return -EINVAL;
        Featureset fs;
        if ( int rc = featureset_from_words(fs, words, nr) )
            return rc;
        Policy p, max;
        if ( int rc = get_domain_policy(domid, p) )
            return rc;
        if ( int rc = get_system_policy(unsigned(PolicyIndex::hvm_max), max) )
            return rc;
        policy_apply_guest_featureset(p, fs, max);
        return set_domain_policy(domid, p, err);
    }

private:
    // get(xc_cpu_policy_t *) fills a libxc policy object; serialise it and convert.
    template <typename Get>
    int read_policy(Get get, Policy &out)
    {
        uint32_t max_leaves = 0, max_msrs = 0;
        if ( lib_->policy_get_size(xch_, &max_leaves, &max_msrs) )
            return neg_errno();
        void *xp = lib_->policy_init();
        if ( !xp )
            return -ENOMEM;
        std::vector<WireLeaf> leaves(max_leaves);
        std::vector<WireMsr> msrs(max_msrs);
        uint32_t nr_leaves = max_leaves, nr_msrs = max_msrs;
        int rc = 0;
        errno = 0;
        if ( get(xp) ||
             lib_->policy_serialise(xch_, xp, leaves.data(), &nr_leaves, msrs.data(), &nr_msrs) )
            rc = neg_errno();
        lib_->policy_destroy(xp);
        if ( rc )
            return rc;
        leaves.resize(nr_leaves);
        msrs.resize(nr_msrs);
        return policy_from_wire(out, std::move(leaves), std::move(msrs));
    }

    std::unique_ptr<XenLib> lib_;
    std::unique_ptr<QuietLogger> log_;  // libxc keeps a pointer to it until close
    void *xch_;
};

// dlopen the first of `names` that loads; `tried` collects dlerror() of each failure.
void *open_first(const char *const *names, std::string &tried)
{
    for ( ; *names; ++names )
    {
        if ( void *h = dlopen(*names, RTLD_NOW | RTLD_LOCAL) )
            return h;
        const char *e = dlerror();
        tried += tried.empty() ? "" : "; ";
        tried += e ? e : *names;
    }
    return nullptr;
}

template <typename Fn>
bool resolve(void *lib, const char *sym, Fn &fn, std::string &why)
{
    void *p = dlsym(lib, sym);
    if ( !p )
    {
        why = std::string("xen: the Xen library lacks ") + sym +
              " (libxenctrl/libxenguest 4.17 or compatible needed)";
        return false;
    }
    fn = reinterpret_cast<Fn>(p);
    return true;
}

} // namespace

int xen_backend_open(std::unique_ptr<Backend> &out, const char *opts, std::string &why,
                     const XenLibNames &names)
{
    abi::ErrnoGuard g;
    if ( opts && *opts )
    {
        why = std::string("xen: URI takes no options (got '") + opts + "')";
        return -EINVAL;
    }

    auto lib = std::make_unique<XenLib>();
    std::string tried;
    if ( !(lib->ctrl = open_first(names.ctrl, tried)) ||
         !(lib->guest = open_first(names.guest, tried)) )
    {
        why = "xen: Xen's control libraries are not installed (" + tried + ")";
        return -ENODEV;
    }
    if ( !resolve(lib->ctrl, "xc_interface_open", lib->interface_open, why) ||
         !resolve(lib->ctrl, "xc_interface_close", lib->interface_close, why) ||
         !resolve(lib->guest, "xc_get_cpu_featureset", lib->get_cpu_featureset, why) ||
         !resolve(lib->guest, "xc_get_cpu_levelling_caps", lib->get_cpu_levelling_caps, why) ||
         !resolve(lib->guest, "xc_cpu_policy_init", lib->policy_init, why) ||
         !resolve(lib->guest, "xc_cpu_policy_destroy", lib->policy_destroy, why) ||
         !resolve(lib->guest, "xc_cpu_policy_get_system", lib->policy_get_system, why) ||
         !resolve(lib->guest, "xc_cpu_policy_get_domain", lib->policy_get_domain, why) ||
         !resolve(lib->guest, "xc_cpu_policy_serialise", lib->policy_serialise, why) ||
         !resolve(lib->guest, "xc_cpu_policy_get_size", lib->policy_get_size, why) ||
         !resolve(lib->guest, "xc_set_domain_cpu_policy", lib->set_domain_cpu_policy, why) )
        return -ENODEV;

    auto log = std::make_unique<QuietLogger>();
    log->vt = XtlLogger{quiet_vmessage, quiet_progress, quiet_destroy};
    log->last[0] = '\0';
    errno = 0;
    void *xch = lib->interface_open(&log->vt, &log->vt, 0);
    if ( !xch )
    {
        // Typically: no /dev/xen/privcmd (not running on Xen), or not root in dom0.
        why = "xen: cannot open the Xen control interface (is this dom0 of a running Xen, "
              "and are you root?)";
        if ( log->last[0] )
            why += std::string(": ") + log->last;
        else if ( errno > 0 )
            why += std::string(": ") + strerror(errno);
        return -ENODEV;
    }
    out = std::make_unique<XenBackend>(std::move(lib), std::move(log), xch);
    return 0;
}

} // namespace cpupolicy
