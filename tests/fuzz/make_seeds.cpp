// SPDX-License-Identifier: MIT
// Writes the binary seeds of tests/fuzz/corpus/fuzz_protocol/, fuzz_deserialise/ and
// fuzz_state_file/ (`make fuzz-seeds`), so they follow the protocol, the wire format and
// the state file when one changes instead of going stale: a seed the decoder refuses at its first check would
// still "pass" and quietly stop guiding the fuzzer past that check.
//
//   make_seeds CORPUS_DIR     (dumps: $CPUPOLICY_DUMPS, default tests/data/cpuid-dumps)
//
// The text seeds (dumps, boot options, featureset strings) are committed as written.
#include <stdio.h>
#include <stdlib.h>
#include <string>
#include <vector>

#include "dump_policy.hpp"
#include "protocol.hpp"
#include "state_file.hpp"

using namespace cpupolicy;
using namespace cpupolicy::proto;

namespace {

std::string dir;
int failures;

void save(const std::string &name, const std::vector<uint8_t> &b)
{
    std::string path = dir + "/" + name;
    FILE *f = fopen(path.c_str(), "wb");
    if ( !f || fwrite(b.data(), 1, b.size(), f) != b.size() || fclose(f) )
    {
        fprintf(stderr, "make_seeds: cannot write %s\n", path.c_str());
        ++failures;
    }
}

void put32(std::vector<uint8_t> &b, uint32_t v)
{
    for ( unsigned i = 0; i < 4; ++i )
        b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void request(const char *name, Request r)
{
    std::vector<uint8_t> b;
    if ( int rc = encode_request(r, b) )
    {
        fprintf(stderr, "make_seeds: %s: encode_request %d\n", name, rc);
        ++failures;
        return;
    }
    save(std::string("fuzz_protocol/") + name, b);
}

void reply(const char *name, Reply r)
{
    std::vector<uint8_t> b;
    if ( int rc = encode_reply(r, b) )
    {
        fprintf(stderr, "make_seeds: %s: encode_reply %d\n", name, rc);
        ++failures;
        return;
    }
    save(std::string("fuzz_protocol/") + name, b);
}

// fuzz_deserialise's input layout: mode, MSR count, variant, MSRs, leaves.
void entries(const char *name, uint8_t mode, uint8_t variant, const std::vector<WireMsr> &msrs,
             const std::vector<WireLeaf> &leaves)
{
    std::vector<uint8_t> b{mode, static_cast<uint8_t>(msrs.size()), variant};
    for ( const WireMsr &m : msrs )
    {
        put32(b, m.idx);
        put32(b, m.flags);
        put32(b, static_cast<uint32_t>(m.val));
        put32(b, static_cast<uint32_t>(m.val >> 32));
    }
    for ( const WireLeaf &l : leaves )
        for ( uint32_t v : {l.leaf, l.subleaf, l.a, l.b, l.c, l.d} )
            put32(b, v);
    save(std::string("fuzz_deserialise/") + name, b);
}

// fuzz_state_file: a cpupolicyd state file.
void state(const char *name, const daemon::StateFile &s)
{
    std::vector<uint8_t> b;
    if ( int rc = daemon::state_encode(s, b) )
    {
        fprintf(stderr, "make_seeds: %s: state_encode %d\n", name, rc);
        ++failures;
        return;
    }
    save(std::string("fuzz_state_file/") + name, b);
}

} // namespace

int main(int argc, char **argv)
{
    if ( argc != 2 )
    {
        fprintf(stderr, "usage: make_seeds CORPUS_DIR\n");
        return 2;
    }
    dir = argv[1];
    const char *env = getenv("CPUPOLICY_DUMPS");
    const std::string dumps = env && *env ? env : "tests/data/cpuid-dumps";

    Policy raw{};
    import::ImportError ie;
    if ( int rc = policy_import(raw, dumps + "/GenuineIntel0050654_SkylakeXeon.txt", 0, ie) )
    {
        fprintf(stderr, "make_seeds: %s (%d)\n", import::format_error(ie).c_str(), rc);
        return 1;
    }
    // The raw policy, not a derived one: the seeds then change only with the protocol,
    // the wire format, the policy layout or the importer, not with every derivation rule.
    PolicyWire w;
    if ( int rc = policy_to_wire(raw, w) )
    {
        fprintf(stderr, "make_seeds: policy_to_wire %d\n", rc);
        return 1;
    }

    // One frame of each shape: bare argument, featureset words, a whole policy; replies
    // with and without a body, a size-query answer, an error with its record.
    Request rq;
    rq.id = 1;
    rq.op = Op::hello;
    rq.arg = VERSION;
    request("req_hello.bin", rq);
    rq = {};
    rq.id = 2;
    rq.op = Op::get_featureset;
    rq.arg = 1;
    rq.nr = NR_QUERY;
    request("req_get_featureset_size_query.bin", rq);
    rq = {};
    rq.id = 3;
    rq.op = Op::set_featureset;
    rq.arg = 1;
    rq.words = {0x1f8bfbff, 0xfffa3203, 0x2c100800, 0x121};
    request("req_set_featureset.bin", rq);
    rq = {};
    rq.id = 4;
    rq.op = Op::set_domain_policy;
    rq.arg = 1;
    rq.policy = w;
    request("req_set_domain_policy.bin", rq);

    Reply rp;
    rp.id = 2;
    rp.op = Op::get_featureset;
    rp.has_body = true;
    rp.count_only = true;
    rp.nr = NR_FEATUREWORDS;
    reply("rep_get_featureset_count.bin", rp);
    rp = {};
    rp.id = 5;
    rp.op = Op::hello;
    rp.has_body = true;
    rp.hello.access = ACCESS_WRITE;
    reply("rep_hello.bin", rp);
    rp = {};
    rp.id = 6;
    rp.op = Op::get_domain_policy;
    rp.has_body = true;
    rp.policy = w;
    reply("rep_get_domain_policy.bin", rp);
    rp = {};
    rp.id = 7;
    rp.op = Op::set_domain_policy;
    rp.rc = -err::erange;
    rp.err = ErrRecord{0xd_leaf, 0x40_subleaf, MsrIndex{~0u}};
    reply("rep_set_domain_policy_erange.bin", rp);
    rp = {};
    rp.id = 8;
    rp.op = Op::featureset_fits_max;
    rp.rc = -err::einval;
    rp.has_body = true;
    rp.value = 52;
    reply("rep_verify_featureset_bad_feature.bin", rp);

    // Deserialise: a whole policy, and one input per error rule of wire.hpp.
    const std::vector<WireLeaf> few(w.leaves.begin(), w.leaves.begin() + 12);
    entries("whole_raw_policy.bin", 0, 0, w.msrs, w.leaves);
    entries("whole_policy_onto_zero_err_null.bin", 2 | 4, 0, w.msrs, w.leaves);
    entries("few_leaves_structured.bin", 1, 0, {}, few);
    entries("duplicate_leaf.bin", 0, 0, {}, {w.leaves[3], w.leaves[1], w.leaves[3]});
    entries("subleaf_beyond_run.bin", 0, 0, {}, {WireLeaf{0xd, 63, 1, 2, 3, 4}});
    entries("plain_leaf_with_subleaf.bin", 0, 0, {}, {WireLeaf{0x1, 0, 1, 2, 3, 4}});
    entries("hypervisor_leaves.bin", 0, 0, {},
            {WireLeaf{HV_LEAF, NO_SUBLEAF, 0x40000005, 0x566e6558, 0, 0},
             WireLeaf{HV2_LEAF, NO_SUBLEAF, 0x40000105, 0, 0, 0}});
    entries("platform_info_overflow.bin", 0, 0,
            {WireMsr{cpupolicy::raw(MSR_ARCH_CAPABILITIES), 0, 0xff}, WireMsr{cpupolicy::raw(MSR_PLATFORM_INFO), 0, 1ull << 32}}, {});
    entries("msr_flags_and_duplicate.bin", 0, 0,
            {WireMsr{cpupolicy::raw(MSR_PLATFORM_INFO), 0, 0x80000000u}, WireMsr{cpupolicy::raw(MSR_PLATFORM_INFO), 1, 0}}, {});
    entries("count_boundary.bin", 1 | 8, 2, {}, few);
    entries("null_leaf_array.bin", 16, 0, {}, few);

    // State files: none, a few domains (the raw policy, one of each kind), and a
    // version-1 file as older daemons wrote it (no length, checksum or next domid).
    daemon::StateFile st;
    st.host_id = "dump=GenuineIntel0050654_SkylakeXeon.txt,boot=,cpus=1";
    state("no_domains.bin", st);
    st.next_domid = 7;
    st.domains = {{1, DomainType::pv, false, 2, w}, {3, DomainType::hvm, true, 1, w},
                  {6, DomainType::hvm, false, 8, PolicyWire{few, {}}}};
    state("three_domains.bin", st);
    std::vector<uint8_t> v2, v1;
    if ( daemon::state_encode(st, v2) == 0 )
    {
        size_t id_end = daemon::STATE_HEADER_SIZE + 4 + st.host_id.size();
        put32(v1, daemon::STATE_MAGIC);
        put32(v1, 1);
        v1.insert(v1.end(), v2.begin() + daemon::STATE_HEADER_SIZE, v2.begin() + long(id_end));
        v1.insert(v1.end(), v2.begin() + long(id_end) + 4, v2.end());
        save("fuzz_state_file/version_1.bin", v1);
    }

    return failures ? 1 : 0;
}
