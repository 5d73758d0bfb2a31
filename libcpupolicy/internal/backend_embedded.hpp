// SPDX-License-Identifier: MIT
// The embedded backend: the simulated hypervisor (hypervisor/sim) booted in-process.
#pragma once

#include "backend.hpp"
#include "sim.hpp"

namespace cpupolicy {

class EmbeddedBackend final : public Backend {
public:
    explicit EmbeddedBackend(std::unique_ptr<sim::SimMachine> m) : m_(std::move(m)) {}
    const char *kind() const override { return "embedded"; }

    [[nodiscard]] int get_featureset(unsigned idx, uint32_t *nr, uint32_t *fs) override;
    [[nodiscard]] int get_system_policy(unsigned idx, Policy &out) override;
    [[nodiscard]] int get_levelling_caps(uint32_t *caps) override;
    [[nodiscard]] int featureset_fits_max(unsigned idx, const uint32_t *fs, uint32_t nr,
                                        uint32_t *bad_feature) override;
    [[nodiscard]] int domain_create(unsigned type, uint32_t *domid) override;
    [[nodiscard]] int domain_start(uint32_t domid) override;
    [[nodiscard]] int domain_destroy(uint32_t domid) override;
    [[nodiscard]] int get_domain_policy(uint32_t domid, Policy &out) override;
    [[nodiscard]] int set_domain_policy(uint32_t domid, const Policy &p, ErrRecord *err) override;
    [[nodiscard]] int set_featureset(uint32_t domid, const uint32_t *fs, uint32_t nr, ErrRecord *err) override;

    sim::SimMachine &machine() { return *m_; }

private:
    // Hypercalls are made from the boot CPU.
    template <typename F>
    [[nodiscard]] int call(F &&f) { return m_->on_cpu(0, f); }

    std::unique_ptr<sim::SimMachine> m_;
};

// Parse the options of an embedded URI ("" / "sim:dump=PATH[,cpus=N][,boot=OPTS]").
// boot= comes last and takes the rest of the URI (boot options are comma lists
// themselves: "boot=cpuid=no-avx,no-rtm"); a comma-separated piece of it spelt like a
// URI option ("dump=", "boot=", "cpus=") is refused rather than read as one.  -EINVAL
// with `why` for anything else (an unknown token, a key given twice, cpus= not
// 1..MAX_PCPUS in digits).  The boot options themselves are read by SimMachine::create.
[[nodiscard]] int parse_sim_uri(const char *opts, sim::SimConfig &cfg, std::string &why);

} // namespace cpupolicy
