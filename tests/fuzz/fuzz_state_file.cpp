// SPDX-License-Identifier: MIT
// cpupolicyd's state file decoder (toolstack/cpupolicyd/state_file.hpp) over arbitrary
// bytes: the file a daemon finds at start may be damaged in any way.
//
// Input: the whole input is the file, decoded as given and, when it starts like a
// version-2 file, again with its length and CRC made honest (so that mutations reach the
// payload checks behind the checksum).  Checks:
//   - the return value is 0, -EBADMSG or -EPROTONOSUPPORT, and every refusal says why;
//   - on error `out` is exactly as it was (a sentinel no decode produces);
//   - on success the records are what the header promises: domids strictly increasing in
//     1..0x7fef, types 0/1, 1..MAX_VCPUS vCPUs, policies within the wire bounds, a next
//     domid in range;
//   - a decoded state re-encodes (as version 2) to bytes that decode to the same state,
//     and for a version-2 input to exactly the input (the encoding is canonical);
//   - a version-2 file with a payload bit flipped is refused (the CRC-32 catches every
//     single-bit error), the flipped bit chosen by the input's length.
#include "fuzz.hpp"

#include <errno.h>
#include <string.h>
#include <zlib.h>

#include <string>
#include <vector>

#include "state_file.hpp"

using namespace cpupolicy;
using namespace cpupolicy::daemon;

namespace {

StateFile sentinel()
{
    StateFile s;
    s.version = 77;
    s.host_id = "sentinel";
    s.next_domid = 12345;
    return s;
}

bool is_sentinel(const StateFile &s)
{
    return s.version == 77 && s.host_id == "sentinel" && s.next_domid == 12345 &&
           s.domains.empty();
}

bool same(const StateFile &a, const StateFile &b)
{
    std::vector<uint8_t> x, y;
    return state_encode(a, x) == 0 && state_encode(b, y) == 0 && x == y &&
           a.next_domid == b.next_domid;
}

void check(const uint8_t *data, size_t size)
{
    StateFile out = sentinel();
    std::string why;
    int rc = state_decode(data, size, out, why);
    FUZZ_CHECK(rc == 0 || rc == -EBADMSG || rc == -EPROTONOSUPPORT, "rc %d", rc);
    if ( rc )
    {
        FUZZ_CHECK(is_sentinel(out), "rc %d but the output was written", rc);
        FUZZ_CHECK(!why.empty(), "rc %d without a reason", rc);
        return;
    }
    FUZZ_CHECK(out.version == 1 || out.version == STATE_VERSION, "version %u", out.version);
    FUZZ_CHECK(out.next_domid >= 1 && out.next_domid < DOMID_FIRST_RESERVED, "next domid %u",
               out.next_domid);
    FUZZ_CHECK(out.host_id.size() <= MAX_HOST_ID, "host id of %zu bytes", out.host_id.size());
    DomId last = 0;
    for ( const DomainRecord &r : out.domains )
    {
        FUZZ_CHECK(r.domid > last && r.domid < DOMID_FIRST_RESERVED, "domid %u after %u",
                   r.domid, last);
        FUZZ_CHECK(r.type == DomainType::pv || r.type == DomainType::hvm, "type %u",
                   unsigned(r.type));
        FUZZ_CHECK(r.nr_vcpus >= 1 && r.nr_vcpus <= MAX_VCPUS, "%u vCPUs", r.nr_vcpus);
        FUZZ_CHECK(r.policy.leaves.size() <= MAX_SERIALISED_LEAVES &&
                       r.policy.msrs.size() <= MAX_SERIALISED_MSRS,
                   "policy of %zu leaves, %zu MSRs", r.policy.leaves.size(),
                   r.policy.msrs.size());
        last = r.domid;
    }

    std::vector<uint8_t> again;
    FUZZ_CHECK(state_encode(out, again) == 0, "a decoded state does not encode");
    if ( out.version == STATE_VERSION )
        FUZZ_CHECK(again.size() == size && memcmp(again.data(), data, size) == 0,
                   "re-encoding gives %zu bytes, not the %zu read", again.size(), size);
    StateFile back = sentinel();
    std::string why2;
    FUZZ_CHECK(state_decode(again.data(), again.size(), back, why2) == 0 && same(out, back),
               "the re-encoded state does not decode to itself: %s", why2.c_str());

    // One payload bit flipped: always refused.
    if ( again.size() > STATE_HEADER_SIZE )
    {
        size_t bit = size % ((again.size() - STATE_HEADER_SIZE) * 8);
        again[STATE_HEADER_SIZE + bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        StateFile flipped = sentinel();
        FUZZ_CHECK(state_decode(again.data(), again.size(), flipped, why2) == -EBADMSG,
                   "payload bit %zu flipped, still accepted", bit);
    }
}

void put32(uint8_t *p, uint32_t v)
{
    for ( unsigned i = 0; i < 4; ++i )
        p[i] = static_cast<uint8_t>(v >> (8 * i));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check(data, size);
    if ( size >= STATE_HEADER_SIZE && data[4] == STATE_VERSION && !data[5] && !data[6] &&
         !data[7] )
    {
        std::vector<uint8_t> honest(data, data + size);
        size_t n = size - STATE_HEADER_SIZE;
        put32(honest.data(), STATE_MAGIC);
        put32(honest.data() + 8, static_cast<uint32_t>(n));
        put32(honest.data() + 12, static_cast<uint32_t>(crc32(crc32(0L, Z_NULL, 0),
                                                        honest.data() + STATE_HEADER_SIZE,
                                                        static_cast<uInt>(n))));
        check(honest.data(), honest.size());
    }
    return 0;
}
