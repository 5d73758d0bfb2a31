// SPDX-License-Identifier: MIT
// The cpupolicyd protocol decoders (libcpupolicy/protocol/protocol.hpp) over arbitrary bytes.
//
// Input: one frame as it would arrive on the socket (24-byte header, payload).  It is
// decoded twice: as given, and with the header's length patched to the bytes actually
// present (a peer that frames correctly but lies inside the payload), so random
// mutations get past the length check too.  Checks:
//   - every return value is one the header documents, and -ENODATA exactly when there
//     are fewer than 24 bytes;
//   - a header that decodes re-encodes to the same 24 bytes;
//   - at most one of decode_request / decode_reply accepts a frame (FLAG_REPLY decides);
//   - a decoder that fails leaves its output as it was;
//   - a frame that decodes re-encodes to exactly the same bytes (the encoding is
//     canonical: no field is dropped or normalised on the way in);
//   - a decoded policy goes through wire_to_policy() with a documented result, and the
//     policy it gives survives policy_to_wire() / wire_to_policy() unchanged.
#include "fuzz.hpp"

#include <errno.h>
#include <string.h>
#include <vector>

#include "protocol.hpp"

using namespace cpupolicy;
using namespace cpupolicy::proto;

namespace {

constexpr uint64_t SENTINEL_ID = 0x5e17e15e17e15e17ull;

void check_policy(const PolicyWire &w)
{
    Policy p;
    ErrRecord err;
    int rc = wire_to_policy(w, p, &err);
    FUZZ_CHECK(rc == 0 || rc == -E2BIG || rc == -EINVAL || rc == -ERANGE || rc == -EOVERFLOW,
               "wire_to_policy: undocumented rc %d", rc);
    if ( rc )
        return;
    PolicyWire again;
    rc = policy_to_wire(p, again);
    FUZZ_CHECK(rc == 0, "policy_to_wire of a decoded policy: %d", rc);
    Policy q;
    rc = wire_to_policy(again, q, &err);
    FUZZ_CHECK(rc == 0, "wire_to_policy of our own wire form: %d at {%#x, %#x, msr %#x}", rc,
               raw(err.leaf), raw(err.subleaf), raw(err.msr));
    // The first conversion keeps what the policy advertises; the second must change nothing.
    PolicyWire third;
    rc = policy_to_wire(q, third);
    FUZZ_CHECK(rc == 0 && third.leaves.size() == again.leaves.size() &&
                   memcmp(third.leaves.data(), again.leaves.data(),
                          again.leaves.size() * sizeof(WireLeaf)) == 0,
               "policy wire form not stable after one round trip (%zu vs %zu leaves)",
               third.leaves.size(), again.leaves.size());
}

void check_frame(const uint8_t *frame, size_t size)
{
    Header h;
    h.id = SENTINEL_ID;
    int rc = decode_header(frame, size, h);
    FUZZ_CHECK(rc == 0 || rc == -ENODATA || rc == -EBADMSG || rc == -EPROTONOSUPPORT ||
                   rc == -EMSGSIZE,
               "decode_header: undocumented rc %d", rc);
    FUZZ_CHECK((rc == -ENODATA) == (size < HEADER_SIZE), "decode_header: rc %d for %zu bytes",
               rc, size);
    FUZZ_CHECK(op_name(h.op) != nullptr, "op_name(%u) is NULL", h.op);
    if ( rc )
        return;

    uint8_t hdr[HEADER_SIZE];
    encode_header(h, hdr);
    FUZZ_CHECK(memcmp(hdr, frame, HEADER_SIZE) == 0, "header does not re-encode to its bytes");

    const uint8_t *payload = frame + HEADER_SIZE;
    const size_t len = size - HEADER_SIZE;

    Request req;
    req.id = SENTINEL_ID;
    int rq = decode_request(h, len ? payload : nullptr, len, req);
    FUZZ_CHECK(rq == 0 || rq == -EBADMSG || rq == -E2BIG || rq == -EOPNOTSUPP,
               "decode_request: undocumented rc %d (op %u)", rq, h.op);

    Reply rep;
    rep.id = SENTINEL_ID;
    int rp = decode_reply(h, len ? payload : nullptr, len, rep);
    FUZZ_CHECK(rp == 0 || rp == -EBADMSG || rp == -E2BIG || rp == -EOPNOTSUPP,
               "decode_reply: undocumented rc %d (op %u)", rp, h.op);

    FUZZ_CHECK(rq != 0 || rp != 0, "one frame decoded both as a request and as a reply");

    if ( rq )
        FUZZ_CHECK(req.id == SENTINEL_ID && req.words.empty() && req.policy.leaves.empty(),
                   "decode_request failed (%d) but wrote its output", rq);
    if ( rp )
        FUZZ_CHECK(rep.id == SENTINEL_ID && rep.words.empty() && rep.policy.leaves.empty(),
                   "decode_reply failed (%d) but wrote its output", rp);

    std::vector<uint8_t> out;
    if ( rq == 0 )
    {
        int e = encode_request(req, out);
        FUZZ_CHECK(e == 0, "decoded request does not re-encode: %d (op %u)", e, h.op);
        FUZZ_CHECK(out.size() == size && memcmp(out.data(), frame, size) == 0,
                   "request (op %u) re-encodes to %zu different bytes (had %zu)", h.op,
                   out.size(), size);
        if ( req.op == Op::set_domain_policy )
            check_policy(req.policy);
    }
    if ( rp == 0 )
    {
        int e = encode_reply(rep, out);
        FUZZ_CHECK(e == 0, "decoded reply does not re-encode: %d (op %u)", e, h.op);
        FUZZ_CHECK(out.size() == size && memcmp(out.data(), frame, size) == 0,
                   "reply (op %u) re-encodes to %zu different bytes (had %zu)", h.op,
                   out.size(), size);
        if ( rep.has_body && (rep.op == Op::get_system_policy || rep.op == Op::get_domain_policy) )
            check_policy(rep.policy);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_frame(data, size);

    // The same bytes with an honest length field.
    if ( size >= HEADER_SIZE && size - HEADER_SIZE <= MAX_PAYLOAD )
    {
        std::vector<uint8_t> f(data, data + size);
        uint32_t len = static_cast<uint32_t>(size - HEADER_SIZE);
        for ( unsigned i = 0; i < 4; ++i )
            f[12 + i] = static_cast<uint8_t>(len >> (8 * i));
        check_frame(f.data(), f.size());
    }
    return 0;
}
