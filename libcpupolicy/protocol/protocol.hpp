// SPDX-License-Identifier: MIT
// The cpupolicyd protocol: the hypercalls of one simulated host carried over a UNIX
// stream socket (toolstack/cpupolicyd, backend_unix.cpp).  Full specification, with the
// byte layouts, in docs/cpupolicyd.md.
//
// Every message is one frame: a 24-byte header then `len` payload bytes, all fields
// little-endian and fixed-width.  One request gets exactly one reply, with the same op
// and id and FLAG_REPLY set.  A reply's payload starts with the call's return value
// (0 or a negative errno) and the ErrRecord, then the op's result fields.  Policies
// travel in their wire form (wire.hpp): two counts, then the WireLeaf and WireMsr arrays.
//
// Decoding is pure (bytes in, struct out, no I/O) and checks every length and count
// before using it, so the same functions serve the daemon, the client and the tests:
//   -ENODATA          fewer bytes than a header
//   -EBADMSG          bad magic, reserved flag bits set, a payload whose size does not
//                     match what its own fields say (short or with trailing bytes)
//   -EPROTONOSUPPORT  a version other than VERSION
//   -EMSGSIZE         a payload length beyond MAX_PAYLOAD
//   -E2BIG            a count beyond its bound (MAX_FS_WORDS, MAX_SERIALISED_LEAVES,
//                     MAX_SERIALISED_MSRS), checked before the size
//   -EOPNOTSUPP       an op this version does not define
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <vector>

#include "cpupolicy/wire.hpp"

namespace cpupolicy::proto {

// "CPDP" in memory (little-endian u32).
inline constexpr uint32_t MAGIC = 0x50445043u;
inline constexpr uint16_t VERSION = 1;
inline constexpr size_t HEADER_SIZE = 24;
inline constexpr uint32_t FLAG_REPLY = 1u;           // every other flag bit is reserved (0)
// Featureset words in one message.  Fixed by the protocol version, not by this build's
// NR_FEATUREWORDS, so builds with different featureset lengths still talk; a client with
// a longer buffer folds the words beyond into the last one (any non-zero word there makes
// the hypervisor answer -EOPNOTSUPP, which is all the extra words can mean).
inline constexpr uint32_t MAX_FS_WORDS = 64;
static_assert(NR_FEATUREWORDS < MAX_FS_WORDS, "room for the fold-over word");
// get_featureset with no buffer (the hypercall's NULL-buffer size query).
inline constexpr uint32_t NR_QUERY = 0xffffffffu;

inline constexpr size_t REPLY_BASE = 16;              // rc + ErrRecord
inline constexpr size_t POLICY_MAX_BYTES =
    8 + MAX_SERIALISED_LEAVES * sizeof(WireLeaf) + MAX_SERIALISED_MSRS * sizeof(WireMsr);
// The largest payload: set_domain_policy's request (domid + policy) and the policy
// replies (REPLY_BASE + policy); rounded up to a power of two with room to spare.
inline constexpr uint32_t MAX_PAYLOAD = 16384;
static_assert(REPLY_BASE + POLICY_MAX_BYTES <= MAX_PAYLOAD, "a whole policy fits in a frame");
static_assert(8 + MAX_FS_WORDS * 4 <= MAX_PAYLOAD);

enum class Op : uint16_t {
    hello = 1,
    get_featureset = 2,
    get_system_policy = 3,
    get_levelling_caps = 4,
    featureset_fits_max = 5,
    domain_create = 6,
    domain_start = 7,
    domain_destroy = 8,
    get_domain_policy = 9,
    set_domain_policy = 10,
    set_featureset = 11,
};
inline constexpr uint16_t OP_FIRST = 1, OP_LAST = 11;
const char *op_name(uint16_t op);           // "domain_create", or "op#N" for unknown ones
// Ops that change the host: only root or the daemon's own user may make them.
bool op_mutates(Op op);

struct Header {
    uint32_t magic = MAGIC;
    uint16_t version = VERSION;
    uint16_t op = 0;
    uint32_t flags = 0;
    uint32_t len = 0;
    uint64_t id = 0;
};

struct PolicyWire {
    std::vector<WireLeaf> leaves;
    std::vector<WireMsr> msrs;
};

// hello's answer: what the server speaks and what this connection may do.
inline constexpr uint32_t ACCESS_WRITE = 1u;  // may create/start/destroy domains, set policies
struct HelloInfo {
    uint32_t version = VERSION;
    uint32_t nr_featurewords = NR_FEATUREWORDS;
    uint32_t max_payload = MAX_PAYLOAD;
    uint32_t access = 0;
};

// One request.  Which fields an op reads:
//   hello              arg = client's VERSION
//   get_featureset     arg = featureset index, nr = buffer words or NR_QUERY
//   get_system_policy  arg = policy index
//   get_levelling_caps -
//   featureset_fits_max  arg = featureset index, words
//   domain_create      arg = domain type
//   domain_start/destroy, get_domain_policy  arg = domid
//   set_domain_policy  arg = domid, policy
//   set_featureset     arg = domid, words
struct Request {
    Op op = Op::hello;
    uint64_t id = 0;
    uint32_t arg = 0;
    uint32_t nr = 0;
    std::vector<uint32_t> words;
    PolicyWire policy;
};

// One reply.  `rc` and `err` always; the rest by op, present when has_body:
//   hello              hello                (rc == 0)
//   get_featureset     words                (rc == 0 or -ENOBUFS; nr = words.size()),
//                      or count_only and nr (the answer to a NR_QUERY request)
//   get_*_policy       policy               (rc == 0)
//   get_levelling_caps value = caps         (rc == 0)
//   featureset_fits_max  value = bad_feature  (always; ~0 when not applicable)
//   domain_create      value = domid        (rc == 0)
struct Reply {
    Op op = Op::hello;
    uint64_t id = 0;
    int32_t rc = 0;
    ErrRecord err;
    bool has_body = false;
    uint32_t value = 0;
    uint32_t nr = 0;
    bool count_only = false;
    HelloInfo hello;
    std::vector<uint32_t> words;
    PolicyWire policy;
};

// --- Header -----------------------------------------------------------------------------
void encode_header(const Header &h, uint8_t out[HEADER_SIZE]);
// Decodes and validates magic, version, reserved flags and the length bound (the op is
// checked by the payload decoders, so a server can answer an unknown op).  On
// -EPROTONOSUPPORT `out` is still filled, so the server can reply in kind.
[[nodiscard]] int decode_header(const uint8_t *buf, size_t len, Header &out);

// --- Frames -----------------------------------------------------------------------------
// A whole frame (header + payload).  -E2BIG when a count is beyond its bound,
// -EMSGSIZE when the payload would exceed MAX_PAYLOAD; `out` is then unchanged.
[[nodiscard]] int encode_request(const Request &r, std::vector<uint8_t> &out);
[[nodiscard]] int encode_reply(const Reply &r, std::vector<uint8_t> &out);
// The payload of a frame whose header `h` decode_header() accepted.
[[nodiscard]] int decode_request(const Header &h, const uint8_t *payload, size_t len,
                                 Request &out);
// A reply must carry FLAG_REPLY (-EBADMSG otherwise).
[[nodiscard]] int decode_reply(const Header &h, const uint8_t *payload, size_t len, Reply &out);

// --- Policies ---------------------------------------------------------------------------
// Policy <-> wire form (policy_serialise / policy_deserialise onto a zeroed policy).
// Lossless for every slot inside the ranges the policy advertises, which is all the
// hypervisor reads (docs/wire-format.md: round trip).
[[nodiscard]] int policy_to_wire(const Policy &p, PolicyWire &out);
[[nodiscard]] int wire_to_policy(const PolicyWire &w, Policy &out, ErrRecord *err);

// A policy's bytes as a frame carries them (u32 nr_leaves, u32 nr_msrs, the leaves, the
// MSRs), on their own: cpupolicyd's state file stores policies in exactly this form.
// encode_policy appends to `out` (-E2BIG, `out` unchanged, for counts beyond the bounds);
// decode_policy reads one policy from the start of buf[0..len) and sets *used to its
// size: -EBADMSG when the bytes are fewer than its counts say, -E2BIG for a count beyond
// its bound; `out` and *used are written only on success.
[[nodiscard]] int encode_policy(const PolicyWire &w, std::vector<uint8_t> &out);
[[nodiscard]] int decode_policy(const uint8_t *buf, size_t len, size_t *used, PolicyWire &out);

} // namespace cpupolicy::proto
