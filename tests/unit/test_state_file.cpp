// SPDX-License-Identifier: MIT
// cpupolicyd's state file codec (toolstack/cpupolicyd/state_file.hpp): what it writes it
// reads back unchanged; every single-bit flip anywhere in a file is refused (the CRC-32
// guarantees it for the payload, the header checks for the header); each refusal names
// what is wrong; version-1 files of older daemons still read; range checks name the domain.
#include <errno.h>
#include <string.h>

#include "harness.hpp"
#include "state_file.hpp"

using namespace cpupolicy;
using namespace cpupolicy::daemon;

namespace {

DomainRecord record(DomId d, DomainType t, bool started, uint32_t salt)
{
    DomainRecord r;
    r.domid = d;
    r.type = t;
    r.started = started;
    r.nr_vcpus = 2;
    r.policy.leaves = {{0, ~0u, 0xd, 0x756e6547 ^ salt, 0x6c65746e, 0x49656e69},
                       {1, ~0u, 0x206d7, salt, 0x1fbee3ff, 0xbfebfbff},
                       {7, 0, 0, 0x281, 0, salt}};
    r.policy.msrs = {{0xce, 0, 0x80000000ull | salt}};
    return r;
}

StateFile sample()
{
    StateFile s;
    s.host_id = "dump=snb.txt,boot=cpuid=no-avx,cpus=2";
    s.next_domid = 9;
    s.domains = {record(1, DomainType::pv, false, 1), record(4, DomainType::hvm, true, 2),
                 record(8, DomainType::hvm, false, 3)};
    return s;
}

bool same(const StateFile &a, const StateFile &b)
{
    if ( a.host_id != b.host_id || a.next_domid != b.next_domid ||
         a.domains.size() != b.domains.size() )
        return false;
    for ( size_t i = 0; i < a.domains.size(); ++i )
    {
        const DomainRecord &x = a.domains[i], &y = b.domains[i];
        if ( x.domid != y.domid || x.type != y.type || x.started != y.started ||
             x.nr_vcpus != y.nr_vcpus || x.policy.leaves.size() != y.policy.leaves.size() ||
             x.policy.msrs.size() != y.policy.msrs.size() )
            return false;
        for ( size_t l = 0; l < x.policy.leaves.size(); ++l )
            if ( memcmp(&x.policy.leaves[l], &y.policy.leaves[l], sizeof(WireLeaf)) )
                return false;
        for ( size_t m = 0; m < x.policy.msrs.size(); ++m )
            if ( x.policy.msrs[m].idx != y.policy.msrs[m].idx ||
                 x.policy.msrs[m].val != y.policy.msrs[m].val )
                return false;
    }
    return true;
}

std::vector<uint8_t> encoded(const StateFile &s)
{
    std::vector<uint8_t> b;
    if ( state_encode(s, b) )
        b.clear();
    return b;
}

void put32(std::vector<uint8_t> &b, size_t at, uint32_t v)
{
    for ( unsigned i = 0; i < 4; ++i )
        b[at + i] = static_cast<uint8_t>(v >> (8 * i));
}

} // namespace

TEST(what_is_written_reads_back_unchanged)
{
    StateFile s = sample(), back;
    std::vector<uint8_t> b = encoded(s);
    std::string why;
    REQUIRE_RC(0, state_decode(b.data(), b.size(), back, why));
    EXPECT_TRUE(same(s, back));
    EXPECT_EQ(2u, back.version);
    // The protocol's policy encoding, byte for byte: the first policy follows the first
    // domain's four fields.
    std::vector<uint8_t> pol;
    REQUIRE_RC(0, proto::encode_policy(s.domains[0].policy, pol));
    size_t at = STATE_HEADER_SIZE + 4 + s.host_id.size() + 8 + 16;
    EXPECT_TRUE(memcmp(b.data() + at, pol.data(), pol.size()) == 0);
}

TEST(an_empty_state_reads_back)
{
    StateFile s, back;
    s.host_id = "dump=native,boot=,cpus=1";
    std::vector<uint8_t> b = encoded(s);
    std::string why;
    REQUIRE_RC(0, state_decode(b.data(), b.size(), back, why));
    EXPECT_TRUE(same(s, back));
}

TEST(every_single_bit_flip_is_refused)
{
    std::vector<uint8_t> good = encoded(sample());
    unsigned accepted = 0, checked = 0;
    for ( size_t byte = 0; byte < good.size(); ++byte )
        for ( unsigned bit = 0; bit < 8; ++bit )
        {
            std::vector<uint8_t> b = good;
            b[byte] ^= static_cast<uint8_t>(1u << bit);
            StateFile out;
            out.host_id = "untouched";
            std::string why;
            int rc = state_decode(b.data(), b.size(), out, why);
            ++checked;
            if ( rc == 0 )
            {
                ++accepted;
                unittest::report(__LINE__, "flip of byte " + std::to_string(byte) + " bit " +
                                               std::to_string(bit), "refused", "accepted");
            }
            else if ( out.host_id != "untouched" || why.empty() )
                unittest::report(__LINE__, "refusal leaves `out` alone and says why",
                                 "untouched, a reason", out.host_id + ", '" + why + "'");
        }
    EXPECT_EQ(good.size() * 8, size_t(checked));
    EXPECT_EQ(0u, accepted);
}

TEST(each_refusal_names_what_is_wrong)
{
    std::vector<uint8_t> good = encoded(sample());
    size_t hid = STATE_HEADER_SIZE + 4 + sample().host_id.size();  // the next domid
    struct Case {
        const char *what;
        std::vector<uint8_t> bytes;
        int rc;
        const char *says;
    };
    auto with = [&](size_t at, uint32_t v) {
        std::vector<uint8_t> b = good;
        put32(b, at, v);
        return b;
    };
    std::vector<uint8_t> truncated(good.begin(), good.end() - 5);
    std::vector<uint8_t> trailing = good;
    trailing.push_back(0);
    const Case cases[] = {
        {"empty", {}, -EBADMSG, "not a cpupolicyd state file"},
        {"other magic", with(0, 0x12345678), -EBADMSG, "not a cpupolicyd state file"},
        {"version 3", with(4, 3), -EPROTONOSUPPORT, "version 3"},
        {"only a magic and version", std::vector<uint8_t>(good.begin(), good.begin() + 8),
         -EBADMSG, "truncated header"},
        {"truncated", truncated, -EBADMSG, "truncated"},
        {"trailing byte", trailing, -EBADMSG, "trailing bytes"},
        {"checksum", with(12, 0), -EBADMSG, "checksum mismatch"},
    };
    for ( const Case &c : cases )
    {
        StateFile out;
        std::string why;
        int rc = state_decode(c.bytes.data(), c.bytes.size(), out, why);
        EXPECT_EQ(c.rc, rc);
        if ( why.find(c.says) == std::string::npos )
            unittest::report(__LINE__, c.what, std::string("a reason with '") + c.says + "'", why);
    }
    (void)hid;
}

// Fields checked after the checksum: a file written by a buggy daemon (right checksum,
// wrong content) is refused too, naming the domain.  Each case re-encodes, so the CRC is
// right and only the range check can refuse it.
TEST(out_of_range_fields_are_refused_naming_the_domain)
{
    struct Case {
        const char *what;
        void (*mutate)(StateFile &);
        const char *says;
    };
    const Case cases[] = {
        {"domid 0", [](StateFile &s) { s.domains[0].domid = 0; }, "domain record 0 (domid 0): domid out of range"},
        {"domid 0x7ff0", [](StateFile &s) { s.domains[2].domid = DOMID_FIRST_RESERVED; },
         "domain record 2 (domid 32752): domid out of range"},
        {"domids out of order", [](StateFile &s) { s.domains[1].domid = 1; },
         "domain record 1 (domid 1): domids not in increasing order"},
        {"0 vCPUs", [](StateFile &s) { s.domains[1].nr_vcpus = 0; }, "domain record 1 (domid 4): 0 vCPUs"},
        {"too many vCPUs", [](StateFile &s) { s.domains[1].nr_vcpus = MAX_VCPUS + 1; }, "vCPUs, expected 1.."},
        {"type 2", [](StateFile &s) { s.domains[0].type = static_cast<DomainType>(2); }, "type 2 is neither"},
        {"next domid 0", [](StateFile &s) { s.next_domid = 0; }, "next domid 0 out of range"},
    };
    for ( const Case &c : cases )
    {
        StateFile s = sample(), out;
        c.mutate(s);
        std::vector<uint8_t> b = encoded(s);
        std::string why;
        EXPECT_EQ(-EBADMSG, state_decode(b.data(), b.size(), out, why));
        if ( why.find(c.says) == std::string::npos )
            unittest::report(__LINE__, c.what, std::string("a reason with '") + c.says + "'", why);
    }
}

TEST(a_version_1_file_of_older_daemons_still_reads)
{
    // Version 1: magic, 1, then the payload without the next domid, no length or CRC.
    StateFile s = sample();
    std::vector<uint8_t> v2 = encoded(s), v1(8);
    put32(v1, 0, STATE_MAGIC);
    put32(v1, 4, 1);
    size_t id_end = STATE_HEADER_SIZE + 4 + s.host_id.size();
    v1.insert(v1.end(), v2.begin() + STATE_HEADER_SIZE, v2.begin() + static_cast<long>(id_end));
    v1.insert(v1.end(), v2.begin() + static_cast<long>(id_end) + 4, v2.end());
    StateFile back;
    std::string why;
    REQUIRE_RC(0, state_decode(v1.data(), v1.size(), back, why));
    EXPECT_EQ(1u, back.version);
    // It did not save the next domid: it continues above the highest restored one.
    s.next_domid = 9;
    EXPECT_TRUE(same(s, back));
}

TEST(an_oversized_host_id_or_policy_is_not_written)
{
    StateFile s = sample();
    s.host_id.assign(MAX_HOST_ID + 1, 'x');
    std::vector<uint8_t> b{1, 2};
    EXPECT_EQ(-E2BIG, state_encode(s, b));
    EXPECT_EQ(size_t(2), b.size());
    s = sample();
    s.domains[0].policy.leaves.resize(MAX_SERIALISED_LEAVES + 1);
    EXPECT_EQ(-E2BIG, state_encode(s, b));
    EXPECT_EQ(size_t(2), b.size());
}

int main() { return unittest::run_all("test_state_file"); }
