// SPDX-License-Identifier: MIT
#include "protocol.hpp"

#include <errno.h>
#include <string.h>

namespace cpupolicy::proto {

namespace {

// Little-endian fixed-width writers/readers; the readers are only called after the
// caller checked that the bytes are there.
void put16(std::vector<uint8_t> &b, uint16_t v)
{
    b.push_back(static_cast<uint8_t>(v));
    b.push_back(static_cast<uint8_t>(v >> 8));
}
void put32(std::vector<uint8_t> &b, uint32_t v)
{
    for ( unsigned i = 0; i < 4; ++i )
        b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put64(std::vector<uint8_t> &b, uint64_t v)
{
    for ( unsigned i = 0; i < 8; ++i )
        b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
uint16_t get16(const uint8_t *p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
uint32_t get32(const uint8_t *p)
{
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
uint64_t get64(const uint8_t *p) { return uint64_t(get32(p)) | uint64_t(get32(p + 4)) << 32; }

// A bounds-checked cursor over a payload: every take() says whether the bytes exist.
struct Reader {
    const uint8_t *p;
    size_t left;
    bool take(size_t n, const uint8_t **at)
    {
        if ( n > left )
            return false;
        *at = p;
        p += n;
        left -= n;
        return true;
    }
    bool u32(uint32_t *v)
    {
        const uint8_t *at;
        if ( !take(4, &at) )
            return false;
        *v = get32(at);
        return true;
    }
};

bool known_op(uint16_t op) { return op >= OP_FIRST && op <= OP_LAST; }

void put_words(std::vector<uint8_t> &b, const std::vector<uint32_t> &w)
{
    put32(b, static_cast<uint32_t>(w.size()));
    for ( uint32_t v : w )
        put32(b, v);
}

// u32 nr, then nr words; nr bounded before the size check.
int get_words(Reader &r, std::vector<uint32_t> &out)
{
    uint32_t nr;
    if ( !r.u32(&nr) )
        return -EBADMSG;
    if ( nr > MAX_FS_WORDS )
        return -E2BIG;
    const uint8_t *at;
    if ( !r.take(size_t(nr) * 4, &at) )
        return -EBADMSG;
    out.resize(nr);
    for ( uint32_t i = 0; i < nr; ++i )
        out[i] = get32(at + 4 * i);
    return 0;
}

void put_policy(std::vector<uint8_t> &b, const PolicyWire &w)
{
    put32(b, static_cast<uint32_t>(w.leaves.size()));
    put32(b, static_cast<uint32_t>(w.msrs.size()));
    for ( const WireLeaf &l : w.leaves )
    {
        put32(b, l.leaf);
        put32(b, l.subleaf);
        put32(b, l.a);
        put32(b, l.b);
        put32(b, l.c);
        put32(b, l.d);
    }
    for ( const WireMsr &m : w.msrs )
    {
        put32(b, m.idx);
        put32(b, m.flags);
        put64(b, m.val);
    }
}

int get_policy(Reader &r, PolicyWire &out)
{
    uint32_t nr_leaves, nr_msrs;
    if ( !r.u32(&nr_leaves) || !r.u32(&nr_msrs) )
        return -EBADMSG;
    if ( nr_leaves > MAX_SERIALISED_LEAVES || nr_msrs > MAX_SERIALISED_MSRS )
        return -E2BIG;
    const uint8_t *l, *m;
    if ( !r.take(size_t(nr_leaves) * 24, &l) || !r.take(size_t(nr_msrs) * 16, &m) )
        return -EBADMSG;
    out.leaves.resize(nr_leaves);
    for ( uint32_t i = 0; i < nr_leaves; ++i, l += 24 )
        out.leaves[i] = WireLeaf{get32(l), get32(l + 4), get32(l + 8), get32(l + 12),
                                 get32(l + 16), get32(l + 20)};
    out.msrs.resize(nr_msrs);
    for ( uint32_t i = 0; i < nr_msrs; ++i, m += 16 )
        out.msrs[i] = WireMsr{get32(m), get32(m + 4), get64(m + 8)};
    return 0;
}

bool policy_fits(const PolicyWire &w)
{
    return w.leaves.size() <= MAX_SERIALISED_LEAVES && w.msrs.size() <= MAX_SERIALISED_MSRS;
}

// Header + payload into `out`, or -EMSGSIZE.
int finish(uint16_t op, uint32_t flags, uint64_t id, const std::vector<uint8_t> &payload,
           std::vector<uint8_t> &out)
{
    if ( payload.size() > MAX_PAYLOAD )
        return -EMSGSIZE;
    Header h;
    h.op = op;
    h.flags = flags;
    h.len = static_cast<uint32_t>(payload.size());
    h.id = id;
    std::vector<uint8_t> f(HEADER_SIZE);
    encode_header(h, f.data());
    f.insert(f.end(), payload.begin(), payload.end());
    out.swap(f);
    return 0;
}

} // namespace

const char *op_name(uint16_t op)
{
    static const char *const names[] = {
        "hello", "get_featureset", "get_system_policy", "get_levelling_caps",
        "featureset_fits_max", "domain_create", "domain_start", "domain_destroy",
        "get_domain_policy", "set_domain_policy", "set_featureset",
    };
    static_assert(sizeof(names) / sizeof(names[0]) == OP_LAST - OP_FIRST + 1);
    if ( !known_op(op) )
        return "unknown op";
    return names[op - OP_FIRST];
}

bool op_mutates(Op op)
{
    switch ( op )
    {
    case Op::domain_create:
    case Op::domain_start:
    case Op::domain_destroy:
    case Op::set_domain_policy:
    case Op::set_featureset:
        return true;
    default:
        return false;
    }
}

void encode_header(const Header &h, uint8_t out[HEADER_SIZE])
{
    std::vector<uint8_t> b;
    b.reserve(HEADER_SIZE);
    put32(b, h.magic);
    put16(b, h.version);
    put16(b, h.op);
    put32(b, h.flags);
    put32(b, h.len);
    put64(b, h.id);
    memcpy(out, b.data(), HEADER_SIZE);
}

int decode_header(const uint8_t *buf, size_t len, Header &out)
{
    if ( !buf || len < HEADER_SIZE )
        return -ENODATA;
    Header h;
    h.magic = get32(buf);
    h.version = get16(buf + 4);
    h.op = get16(buf + 6);
    h.flags = get32(buf + 8);
    h.len = get32(buf + 12);
    h.id = get64(buf + 16);
    if ( h.magic != MAGIC )
        return -EBADMSG;
    out = h;
    if ( h.version != VERSION )
        return -EPROTONOSUPPORT;
    if ( h.flags & ~FLAG_REPLY )
        return -EBADMSG;
    if ( h.len > MAX_PAYLOAD )
        return -EMSGSIZE;
    return 0;
}

int encode_request(const Request &r, std::vector<uint8_t> &out)
{
    std::vector<uint8_t> b;
    switch ( r.op )
    {
    case Op::get_levelling_caps:
        break;
    case Op::get_featureset:
        put32(b, r.arg);
        put32(b, r.nr);
        break;
    case Op::featureset_fits_max:
    case Op::set_featureset:
        if ( r.words.size() > MAX_FS_WORDS )
            return -E2BIG;
        put32(b, r.arg);
        put_words(b, r.words);
        break;
    case Op::set_domain_policy:
        if ( !policy_fits(r.policy) )
            return -E2BIG;
        put32(b, r.arg);
        put_policy(b, r.policy);
        break;
    case Op::hello:
    case Op::get_system_policy:
    case Op::domain_create:
    case Op::domain_start:
    case Op::domain_destroy:
    case Op::get_domain_policy:
        put32(b, r.arg);
        break;
    default:
        return -EOPNOTSUPP;
    }
    return finish(static_cast<uint16_t>(r.op), 0, r.id, b, out);
}

int decode_request(const Header &h, const uint8_t *payload, size_t len, Request &out)
{
    if ( h.flags & FLAG_REPLY )
        return -EBADMSG;
    if ( !known_op(h.op) )
        return -EOPNOTSUPP;
    if ( len != h.len || (len && !payload) )
        return -EBADMSG;
    Request r;
    r.op = static_cast<Op>(h.op);
    r.id = h.id;
    Reader rd{payload, len};
    int rc = 0;
    switch ( r.op )
    {
    case Op::get_levelling_caps:
        break;
    case Op::get_featureset:
        if ( !rd.u32(&r.arg) || !rd.u32(&r.nr) )
            return -EBADMSG;
        break;
    case Op::featureset_fits_max:
    case Op::set_featureset:
        if ( !rd.u32(&r.arg) )
            return -EBADMSG;
        rc = get_words(rd, r.words);
        break;
    case Op::set_domain_policy:
        if ( !rd.u32(&r.arg) )
            return -EBADMSG;
        rc = get_policy(rd, r.policy);
        break;
    default:
        if ( !rd.u32(&r.arg) )
            return -EBADMSG;
        break;
    }
    if ( rc )
        return rc;
    if ( rd.left )
        return -EBADMSG;  // trailing bytes: the sender and we disagree on the layout
    out = std::move(r);
    return 0;
}

int encode_reply(const Reply &r, std::vector<uint8_t> &out)
{
    // An op this version does not define can still be answered (-EOPNOTSUPP), bodiless.
    if ( !known_op(static_cast<uint16_t>(r.op)) && r.has_body )
        return -EOPNOTSUPP;
    std::vector<uint8_t> b;
    put32(b, static_cast<uint32_t>(r.rc));
    put32(b, raw(r.err.leaf));
    put32(b, raw(r.err.subleaf));
    put32(b, raw(r.err.msr));
    if ( r.has_body )
    {
        switch ( r.op )
        {
        case Op::hello:
            put32(b, r.hello.version);
            put32(b, r.hello.nr_featurewords);
            put32(b, r.hello.max_payload);
            put32(b, r.hello.access);
            break;
        case Op::get_featureset:
            if ( r.words.size() > MAX_FS_WORDS )
                return -E2BIG;
            // A size query answers the count alone (no words follow); a leading 1/0
            // says which form follows.
            if ( r.count_only )
            {
                put32(b, 1);
                put32(b, r.nr);
            }
            else
            {
                put32(b, 0);
                put_words(b, r.words);
            }
            break;
        case Op::get_system_policy:
        case Op::get_domain_policy:
            if ( !policy_fits(r.policy) )
                return -E2BIG;
            put_policy(b, r.policy);
            break;
        case Op::get_levelling_caps:
        case Op::featureset_fits_max:
        case Op::domain_create:
            put32(b, r.value);
            break;
        default:
            break;  // no body for the others
        }
    }
    return finish(static_cast<uint16_t>(r.op), FLAG_REPLY, r.id, b, out);
}

int decode_reply(const Header &h, const uint8_t *payload, size_t len, Reply &out)
{
    if ( !(h.flags & FLAG_REPLY) )
        return -EBADMSG;
    // An unknown op is accepted here only as a bare answer (rc + error record): the
    // server's -EOPNOTSUPP to an op it does not know.
    if ( !known_op(h.op) && h.len != REPLY_BASE )
        return -EOPNOTSUPP;
    if ( len != h.len || (len && !payload) )
        return -EBADMSG;
    Reply r;
    r.op = static_cast<Op>(h.op);
    r.id = h.id;
    Reader rd{payload, len};
    uint32_t rc, leaf, subleaf, msr;
    if ( !rd.u32(&rc) || !rd.u32(&leaf) || !rd.u32(&subleaf) || !rd.u32(&msr) )
        return -EBADMSG;
    r.err.leaf = Leaf{leaf};
    r.err.subleaf = Subleaf{subleaf};
    r.err.msr = MsrIndex{msr};
    r.rc = static_cast<int32_t>(rc);
    // A return value is 0 or a negative errno; anything else is not a reply we sent.
    if ( r.rc > 0 || r.rc < -4095 )
        return -EBADMSG;
    int e = 0;
    if ( rd.left )
    {
        r.has_body = true;
        switch ( r.op )
        {
        case Op::hello:
            if ( !rd.u32(&r.hello.version) || !rd.u32(&r.hello.nr_featurewords) ||
                 !rd.u32(&r.hello.max_payload) || !rd.u32(&r.hello.access) )
                return -EBADMSG;
            break;
        case Op::get_featureset:
        {
            uint32_t query;
            if ( !rd.u32(&query) || query > 1 )
                return -EBADMSG;
            r.count_only = query == 1;
            if ( query )
            {
                if ( !rd.u32(&r.nr) )
                    return -EBADMSG;
                if ( r.nr > MAX_FS_WORDS )
                    return -E2BIG;
            }
            else
            {
                e = get_words(rd, r.words);
                r.nr = static_cast<uint32_t>(r.words.size());
            }
            break;
        }
        case Op::get_system_policy:
        case Op::get_domain_policy:
            e = get_policy(rd, r.policy);
            break;
        case Op::get_levelling_caps:
        case Op::featureset_fits_max:
        case Op::domain_create:
            if ( !rd.u32(&r.value) )
                return -EBADMSG;
            break;
        default:
            return -EBADMSG;  // ops without a body
        }
    }
    if ( e )
        return e;
    if ( rd.left )
        return -EBADMSG;
    out = std::move(r);
    return 0;
}

int encode_policy(const PolicyWire &w, std::vector<uint8_t> &out)
{
    if ( !policy_fits(w) )
        return -E2BIG;
    put_policy(out, w);
    return 0;
}

int decode_policy(const uint8_t *buf, size_t len, size_t *used, PolicyWire &out)
{
    if ( !buf || !used )
        return -EBADMSG;
    Reader rd{buf, len};
    PolicyWire w;
    if ( int rc = get_policy(rd, w) )
        return rc;
    *used = len - rd.left;
    out = std::move(w);
    return 0;
}

int policy_to_wire(const Policy &p, PolicyWire &out)
{
    uint32_t nr_leaves = 0, nr_msrs = 0;
    if ( int rc = policy_serialise(p, nullptr, &nr_leaves, nullptr, &nr_msrs) )
        return rc;
    PolicyWire w;
    w.leaves.resize(nr_leaves);
    w.msrs.resize(nr_msrs);
    if ( int rc = policy_serialise(p, w.leaves.data(), &nr_leaves, w.msrs.data(), &nr_msrs) )
        return rc;
    w.leaves.resize(nr_leaves);
    w.msrs.resize(nr_msrs);
    out = std::move(w);
    return 0;
}

int wire_to_policy(const PolicyWire &w, Policy &out, ErrRecord *err)
{
    Policy p{};
    if ( int rc = policy_deserialise(p, w.leaves.data(), static_cast<uint32_t>(w.leaves.size()),
                                     w.msrs.data(), static_cast<uint32_t>(w.msrs.size()), err) )
        return rc;
    out = p;
    return 0;
}

} // namespace cpupolicy::proto
