// SPDX-License-Identifier: MIT
#include "backend_embedded.hpp"
#include "backend_ssh.hpp"
#include "backend_unix.hpp"
#include "backend_xen.hpp"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

namespace cpupolicy {

int EmbeddedBackend::get_featureset(unsigned idx, uint32_t *nr, uint32_t *fs)
{
    return call([&](Hypervisor &hv) { return hv.get_featureset(CONTROL_DOMID, idx, nr, fs); });
}

int EmbeddedBackend::get_system_policy(unsigned idx, Policy &out)
{
    return call([&](Hypervisor &hv) { return hv.get_system_policy(CONTROL_DOMID, idx, out); });
}

int EmbeddedBackend::get_levelling_caps(uint32_t *caps)
{
    return call([&](Hypervisor &hv) { return hv.get_levelling_caps(CONTROL_DOMID, caps); });
}

int EmbeddedBackend::featureset_fits_max(unsigned idx, const uint32_t *fs, uint32_t nr,
                                       uint32_t *bad_feature)
{
    return call([&](Hypervisor &hv) {
        return hv.featureset_fits_max(CONTROL_DOMID, idx, fs, nr, bad_feature);
    });
}

int EmbeddedBackend::domain_create(unsigned type, uint32_t *domid)
{
    if ( type > static_cast<unsigned>(DomainType::hvm) )
        return -EINVAL;
    return call([&](Hypervisor &hv) {
        return hv.domain_create(CONTROL_DOMID, static_cast<DomainType>(type), domid);
    });
}

int EmbeddedBackend::domain_start(uint32_t domid)
{
    return call([&](Hypervisor &hv) { return hv.domain_start(CONTROL_DOMID, domid); });
}

int EmbeddedBackend::domain_destroy(uint32_t domid)
{
    return call([&](Hypervisor &hv) { return hv.domain_destroy(CONTROL_DOMID, domid); });
}

int EmbeddedBackend::get_domain_policy(uint32_t domid, Policy &out)
{
    return call([&](Hypervisor &hv) { return hv.get_domain_policy(CONTROL_DOMID, domid, out); });
}

int EmbeddedBackend::set_domain_policy(uint32_t domid, const Policy &p, ErrRecord *err)
{
    return call([&](Hypervisor &hv) { return hv.set_domain_policy(CONTROL_DOMID, domid, p, err); });
}

int EmbeddedBackend::set_featureset(uint32_t domid, const uint32_t *fs, uint32_t nr,
                                    ErrRecord *err)
{
    return call([&](Hypervisor &hv) {
        return hv.set_featureset(CONTROL_DOMID, domid, fs, nr, err);
    });
}

int parse_sim_uri(const char *opts, sim::SimConfig &cfg, std::string &why)
{
    // Only boot= takes continuation tokens: boot options are comma lists themselves
    // ("boot=cpuid=no-avx,no-rtm").  After dump= an unknown token is a mistake (a
    // misspelt key), not part of the path: refused rather than turned into -ENOENT.
    std::string *current = nullptr;
    std::string cpus;
    bool have_dump = false, have_boot = false, have_cpus = false;
    const char *p = opts;

    while ( *p )
    {
        const char *end = strchr(p, ',');
        std::string tok(p, end ? static_cast<size_t>(end - p) : strlen(p));
        p = end ? end + 1 : p + tok.size();

        bool *seen = tok.rfind("dump=", 0) == 0   ? &have_dump
                     : tok.rfind("boot=", 0) == 0 ? &have_boot
                     : tok.rfind("cpus=", 0) == 0 ? &have_cpus
                                                  : nullptr;
        if ( seen && *seen )
        {
            why = "option '" + tok.substr(0, 4) + "' given twice";
            return -EINVAL;
        }
        if ( seen )
            *seen = true;
        if ( seen == &have_dump )
        {
            cfg.dump_path = tok.substr(5);
            current = nullptr;
        }
        else if ( seen == &have_boot )
        {
            cfg.boot_options = tok.substr(5);
            current = &cfg.boot_options;
        }
        else if ( seen == &have_cpus )
        {
            cpus = tok.substr(5);
            current = nullptr;
        }
        else if ( current )
            *current += "," + tok;
        else
        {
            why = "unknown option '" + tok + "' (expected dump=PATH, boot=OPTS, cpus=N)";
            return -EINVAL;
        }
    }
    if ( !have_dump || cfg.dump_path.empty() )
    {
        why = "sim: URI needs dump=PATH";
        return -EINVAL;
    }
    if ( have_cpus )
    {
        // Digits only: strtoul would take "", " 2", "+2" and "-1" (as ULONG_MAX).
        unsigned long n = 0;
        bool ok = !cpus.empty() && cpus.size() <= 3 &&
                  cpus.find_first_not_of("0123456789") == std::string::npos;
        if ( ok )
            n = strtoul(cpus.c_str(), nullptr, 10);
        if ( !ok || n == 0 || n > MAX_PCPUS )
        {
            why = "cpus=" + cpus + ": expected 1.." + std::to_string(MAX_PCPUS);
            return -EINVAL;
        }
        cfg.nr_cpus = static_cast<unsigned>(n);
    }
    return 0;
}

int backend_open(std::unique_ptr<Backend> &out, const char *uri, std::string &why)
{
    sim::SimConfig cfg;

    if ( !uri || !*uri )
        ;  // this machine's CPU, one simulated physical CPU
    else if ( strncmp(uri, "sim:", 4) == 0 )
    {
        if ( int rc = parse_sim_uri(uri + 4, cfg, why) )
            return rc;
    }
    else if ( strncmp(uri, "unix:", 5) == 0 )
        return UnixBackend::open(uri + 5, out, why);  // a running cpupolicyd
    else if ( strncmp(uri, "ssh:", 4) == 0 )
        return ssh_backend_open(out, uri + 4, why);  // a cpupolicyd on another machine
    else if ( strncmp(uri, "xen:", 4) == 0 )
        return xen_backend_open(out, uri + 4, why);  // a real Xen (backend_xen.hpp)
    else
    {
        const char *colon = strchr(uri, ':');
        why = "unsupported URI scheme '" + std::string(uri, colon ? colon - uri : strlen(uri)) +
              "' (supported: \"\", sim:, unix:, ssh:, xen:)";
        return -EINVAL;
    }

    std::unique_ptr<sim::SimMachine> m;
    std::string err;
    if ( int rc = sim::SimMachine::create(cfg, m, &err) )
    {
        why = err;
        return rc;
    }
    out = std::make_unique<EmbeddedBackend>(std::move(m));
    return 0;
}

} // namespace cpupolicy
