// SPDX-License-Identifier: MIT
#include "backend_embedded.hpp"
#include "backend_ssh.hpp"
#include "backend_unix.hpp"
#include "backend_xen.hpp"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <string_view>

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
    // Comma-separated KEY=VALUE.  boot= comes last and takes the rest of the URI: boot
    // options are comma lists themselves ("boot=cpuid=no-avx,no-rtm"), so nothing after
    // boot= is a URI option, and options pasted into it cannot add one.  A piece of them
    // spelt like a URI option ("boot=no-avx,cpus=64") is refused, naming it: it is
    // neither a boot option nor honoured as cpus=.  After dump= an unknown token is a
    // mistake (a misspelt key), not part of the path: refused rather than turned into
    // -ENOENT.
    static const char *const keys[] = {"dump=", "boot=", "cpus="};
    auto key_of = [&](std::string_view tok) -> int {
        for ( int k = 0; k < 3; ++k )
            if ( tok.substr(0, 5) == keys[k] )
                return k;
        return -1;
    };
    std::string cpus;
    bool seen[3] = {};
    const std::string_view all(opts);
    size_t p = 0;

    while ( p < all.size() )
    {
        size_t end = std::min(all.find(',', p), all.size());
        std::string_view tok = all.substr(p, end - p);
        int k = key_of(tok);
        if ( k < 0 )
        {
            why = "unknown option '" + std::string(tok) +
                  "' (expected dump=PATH, cpus=N, boot=OPTS; boot= last)";
            return -EINVAL;
        }
        if ( seen[k] )
        {
            why = "option '" + std::string(keys[k], 4) + "' given twice";
            return -EINVAL;
        }
        seen[k] = true;
        if ( k == 1 )
        {
            std::string_view boot = all.substr(p + 5);
            for ( size_t q = 0; q <= boot.size(); )
            {
                size_t c = std::min(boot.find(',', q), boot.size());
                if ( key_of(boot.substr(q, c - q)) >= 0 )
                {
                    why = "'" + std::string(boot.substr(q, c - q)) + "' at offset " +
                          std::to_string(4 + p + 5 + q) +
                          " of the URI is inside boot=, which takes the rest of the URI: "
                          "give dump= and cpus= before boot=";
                    return -EINVAL;
                }
                q = c + 1;
            }
            cfg.boot_options = std::string(boot);
            break;
        }
        if ( k == 0 )
            cfg.dump_path = std::string(tok.substr(5));
        else
            cpus = std::string(tok.substr(5));
        p = end + 1;
    }
    if ( !seen[0] || cfg.dump_path.empty() )
    {
        why = "sim: URI needs dump=PATH";
        return -EINVAL;
    }
    if ( seen[2] )
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
