// SPDX-License-Identifier: MIT
// The cpupolicyd protocol (libcpupolicy/protocol/protocol.hpp, docs/cpupolicyd.md) and the
// unix backend that speaks it.
//
// Proves: the header layout byte for byte; every op's request and reply round trip;
// every malformed, truncated, oversized or over-counted frame is refused with its own
// error before any count is used; random corruption of valid frames never gets past the
// decoders unnoticed (no crash, only the documented errors); policies cross the wire
// losslessly for every slot in range, over all the dumps; and the unix backend gives the
// embedded backend's answers, rc, outputs and error records alike, call for call, against
// a server thread in this process - plus -EPROTO for each kind of bad reply; and the
// Hypervisor::domain_create_with_id hook the daemon restores saved domains with.
#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <random>
#include <thread>

#include "backend_embedded.hpp"
#include "backend_unix.hpp"
#include "serve.hpp"
#include "fixture.hpp"

using namespace cpupolicy;
using namespace cpupolicy::proto;
using namespace fixture;

namespace {

std::vector<uint8_t> frame_of(const Request &r)
{
    std::vector<uint8_t> f;
    if ( encode_request(r, f) != 0 )
    {
        std::printf("test bug: cannot encode %s\n", op_name(uint16_t(r.op)));
        std::exit(2);
    }
    return f;
}
std::vector<uint8_t> frame_of(const Reply &r)
{
    std::vector<uint8_t> f;
    if ( encode_reply(r, f) != 0 )
    {
        std::printf("test bug: cannot encode reply %s\n", op_name(uint16_t(r.op)));
        std::exit(2);
    }
    return f;
}

// Decode a whole request frame as the daemon does: header, then payload.
int decode_req_frame(const std::vector<uint8_t> &f, Request &out)
{
    Header h;
    if ( int rc = decode_header(f.data(), f.size(), h) )
        return rc;
    if ( f.size() != HEADER_SIZE + h.len )
        return -EBADMSG;
    return decode_request(h, f.data() + HEADER_SIZE, h.len, out);
}
int decode_rep_frame(const std::vector<uint8_t> &f, Reply &out)
{
    Header h;
    if ( int rc = decode_header(f.data(), f.size(), h) )
        return rc;
    if ( f.size() != HEADER_SIZE + h.len )
        return -EBADMSG;
    return decode_reply(h, f.data() + HEADER_SIZE, h.len, out);
}

void set32(std::vector<uint8_t> &f, size_t off, uint32_t v)
{
    for ( unsigned i = 0; i < 4; ++i )
        f[off + i] = uint8_t(v >> (8 * i));
}

bool same_bytes_p(const Policy &a, const Policy &b) { return !memcmp(&a, &b, sizeof(a)); }

std::string errname(int rc) { return std::to_string(rc) + " (" + strerror(-rc) + ")"; }

PolicyWire small_policy()
{
    PolicyWire w;
    w.leaves.push_back(WireLeaf{0, NO_SUBLEAF, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69});
    w.leaves.push_back(WireLeaf{7, 0, 0, 0x209, 0, 0});
    w.msrs.push_back(WireMsr{0xce, 0, 0x80000000u});
    w.msrs.push_back(WireMsr{0x10a, 0, 0x1234567890ull});
    return w;
}

bool same_wire(const PolicyWire &a, const PolicyWire &b)
{
    return a.leaves.size() == b.leaves.size() && a.msrs.size() == b.msrs.size() &&
           (a.leaves.empty() ||
            !memcmp(a.leaves.data(), b.leaves.data(), a.leaves.size() * sizeof(WireLeaf))) &&
           (a.msrs.empty() ||
            !memcmp(a.msrs.data(), b.msrs.data(), a.msrs.size() * sizeof(WireMsr)));
}

// One valid request per op, with every field it carries set to something non-trivial.
std::vector<Request> sample_requests()
{
    std::vector<Request> v;
    for ( uint16_t op = OP_FIRST; op <= OP_LAST; ++op )
    {
        Request r;
        r.op = Op(op);
        r.id = 0x1122334455667788ull + op;
        r.arg = r.op == Op::get_levelling_caps ? 0 : 3 + op;  // the one op without arguments
        if ( r.op == Op::get_featureset )
            r.nr = 7;
        if ( r.op == Op::featureset_fits_max || r.op == Op::set_featureset )
            r.words = {0xbfebfbff, 0x17bee3ff, 0, 0x80000001};
        if ( r.op == Op::set_domain_policy )
            r.policy = small_policy();
        v.push_back(r);
    }
    return v;
}

// --- Header -----------------------------------------------------------------------------
void header_layout_is_pinned_byte_for_byte()
{
    Header h;
    h.op = 0x0a0b;
    h.flags = FLAG_REPLY;
    h.len = 0x01020304;
    h.id = 0x1112131415161718ull;
    uint8_t b[HEADER_SIZE];
    encode_header(h, b);
    const uint8_t want[HEADER_SIZE] = {
        'C', 'P', 'D', 'P',            // magic
        1, 0,                          // version
        0x0b, 0x0a,                    // op
        1, 0, 0, 0,                    // flags
        4, 3, 2, 1,                    // payload length
        0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11,  // request id
    };
    for ( size_t i = 0; i < HEADER_SIZE; ++i )
        expect_eq("header byte " + str(unsigned(i)), unsigned(want[i]), unsigned(b[i]));
}

void header_errors_are_each_their_own()
{
    struct Case {
        const char *what;
        size_t off;       // patch a u32 at this offset (SIZE_MAX: none)
        uint32_t value;
        size_t len;       // bytes handed to decode_header
        int expect;
    };
    const Case cases[] = {
        {"valid, empty payload", SIZE_MAX, 0, HEADER_SIZE, 0},
        {"one byte short of a header", SIZE_MAX, 0, HEADER_SIZE - 1, -ENODATA},
        {"no bytes", SIZE_MAX, 0, 0, -ENODATA},
        {"bad magic", 0, 0x50445044, HEADER_SIZE, -EBADMSG},
        {"version 2", 4, 0x00020002, HEADER_SIZE, -EPROTONOSUPPORT},
        {"version 0", 4, 0x00020000, HEADER_SIZE, -EPROTONOSUPPORT},
        {"reserved flag bit 1", 8, 2, HEADER_SIZE, -EBADMSG},
        {"reserved flag bit 31", 8, 0x80000000u, HEADER_SIZE, -EBADMSG},
        {"payload exactly MAX_PAYLOAD", 12, MAX_PAYLOAD, HEADER_SIZE, 0},
        {"payload MAX_PAYLOAD + 1", 12, MAX_PAYLOAD + 1, HEADER_SIZE, -EMSGSIZE},
        {"payload 4 GiB - 1", 12, 0xffffffffu, HEADER_SIZE, -EMSGSIZE},
    };
    for ( const Case &c : cases )
    {
        Request r;
        r.op = Op::get_levelling_caps;
        std::vector<uint8_t> f = frame_of(r);
        if ( c.off != SIZE_MAX )
            set32(f, c.off, c.value);
        Header h;
        expect_eq(c.what, errname(c.expect), errname(decode_header(f.data(), c.len, h)));
    }
    // A version mismatch still reports the header, so the server can answer in kind.
    Request r;
    r.op = Op::hello;
    r.id = 77;
    std::vector<uint8_t> f = frame_of(r);
    set32(f, 4, 0x00010009);
    Header h;
    expect_eq("version mismatch rc", errname(-EPROTONOSUPPORT),
              errname(decode_header(f.data(), f.size(), h)));
    expect_eq("version mismatch: id still decoded", 77ull, (unsigned long long)h.id);
    expect_eq("version mismatch: version seen", 9u, unsigned(h.version));
}

// --- Round trips ------------------------------------------------------------------------
void every_request_round_trips()
{
    for ( const Request &r : sample_requests() )
    {
        Request d;
        std::string name = op_name(uint16_t(r.op));
        if ( !expect_eq(name + " decodes", 0, decode_req_frame(frame_of(r), d)) )
            continue;
        expect_eq(name + " op", unsigned(r.op), unsigned(d.op));
        expect_eq(name + " id", (unsigned long long)r.id, (unsigned long long)d.id);
        expect_eq(name + " arg", r.arg, d.arg);
        expect_eq(name + " nr", r.nr, d.nr);
        expect(name + " words", r.words == d.words);
        expect(name + " policy", same_wire(r.policy, d.policy));
    }
}

void every_reply_round_trips()
{
    std::vector<Reply> replies;
    for ( uint16_t op = OP_FIRST; op <= OP_LAST; ++op )
    {
        Reply r;
        r.op = Op(op);
        r.id = 900 + op;
        r.rc = op % 2 ? 0 : -EINVAL;
        r.err = err_rec(7, 0, ~0u);
        switch ( r.op )
        {
        case Op::hello:
            r.has_body = true;
            r.hello.access = ACCESS_WRITE;
            break;
        case Op::get_featureset:
            r.has_body = true;
            r.rc = -ENOBUFS;  // a short buffer still carries what fitted
            r.words = {1, 2, 3};
            r.nr = 3;
            break;
        case Op::get_system_policy:
        case Op::get_domain_policy:
            r.rc = 0;
            r.has_body = true;
            r.policy = small_policy();
            break;
        case Op::get_levelling_caps:
        case Op::featureset_fits_max:
        case Op::domain_create:
            r.has_body = true;
            r.value = 0x1ff;
            break;
        default:
            break;
        }
        replies.push_back(r);
    }
    Reply q;  // the size query's form
    q.op = Op::get_featureset;
    q.has_body = q.count_only = true;
    q.nr = NR_FEATUREWORDS;
    replies.push_back(q);

    for ( const Reply &r : replies )
    {
        Reply d;
        std::string name = std::string(op_name(uint16_t(r.op))) + (r.count_only ? " (count)" : "");
        if ( !expect_eq(name + " decodes", 0, decode_rep_frame(frame_of(r), d)) )
            continue;
        expect_eq(name + " id", (unsigned long long)r.id, (unsigned long long)d.id);
        expect_eq(name + " rc", r.rc, d.rc);
        expect_err(name + " err", r.err, d.err);
        expect_eq(name + " has_body", r.has_body, d.has_body);
        expect_eq(name + " value", r.value, d.value);
        expect_eq(name + " nr", r.nr, d.nr);
        expect_eq(name + " count_only", r.count_only, d.count_only);
        expect_eq(name + " hello.access", r.hello.access, d.hello.access);
        expect_eq(name + " hello.nr_featurewords", r.hello.nr_featurewords, d.hello.nr_featurewords);
        expect(name + " words", r.words == d.words);
        expect(name + " policy", same_wire(r.policy, d.policy));
    }
}

// --- Malformed frames -------------------------------------------------------------------
void every_truncated_or_padded_payload_is_ebadmsg()
{
    unsigned checked = 0;
    for ( const Request &r : sample_requests() )
    {
        std::vector<uint8_t> f = frame_of(r);
        size_t len = f.size() - HEADER_SIZE;
        std::string name = op_name(uint16_t(r.op));
        // Every shorter payload, with the header saying so (a consistent but short frame).
        for ( size_t cut = 0; cut < len; ++cut )
        {
            std::vector<uint8_t> g(f.begin(), f.begin() + HEADER_SIZE + cut);
            set32(g, 12, uint32_t(cut));
            Request d;
            int rc = decode_req_frame(g, d);
            if ( rc != -EBADMSG )
                expect_eq(name + " payload cut to " + str(unsigned(cut)), errname(-EBADMSG),
                          errname(rc));
            ++checked;
        }
        // One trailing byte.
        std::vector<uint8_t> g = f;
        g.push_back(0);
        set32(g, 12, uint32_t(len + 1));
        Request d;
        expect_eq(name + " one trailing byte", errname(-EBADMSG), errname(decode_req_frame(g, d)));
        // A payload length that disagrees with the bytes handed over.
        Header h;
        if ( decode_header(f.data(), f.size(), h) == 0 && len )
            expect_eq(name + " len != header len", errname(-EBADMSG),
                      errname(decode_request(h, f.data() + HEADER_SIZE, len - 1, d)));
    }
    expect("truncations checked", checked > 100);
    // Replies alike, including the bare base.
    Reply r;
    r.op = Op::get_domain_policy;
    r.has_body = true;
    r.policy = small_policy();
    std::vector<uint8_t> f = frame_of(r);
    for ( size_t cut = 0; cut < f.size() - HEADER_SIZE; ++cut )
    {
        std::vector<uint8_t> g(f.begin(), f.begin() + HEADER_SIZE + cut);
        set32(g, 12, uint32_t(cut));
        Reply d;
        int rc = decode_rep_frame(g, d);
        // A cut exactly after the base is a valid bodiless reply (an error answer).
        int want = cut == REPLY_BASE ? 0 : -EBADMSG;
        if ( rc != want )
            expect_eq("reply cut to " + str(unsigned(cut)), errname(want), errname(rc));
    }
}

void counts_beyond_their_bound_are_e2big_before_the_size_is_used()
{
    // A count is refused on its own, even though the bytes it announces are absent: the
    // decoder never sizes anything from an unchecked count.
    struct Case {
        const char *what;
        Op op;
        size_t count_off;  // in the payload
        uint32_t count;
        int expect;
    };
    const Case cases[] = {
        {"featureset words MAX_FS_WORDS + 1", Op::featureset_fits_max, 4, MAX_FS_WORDS + 1, -E2BIG},
        {"featureset words 0xffffffff", Op::set_featureset, 4, 0xffffffffu, -E2BIG},
        {"featureset words MAX_FS_WORDS, bytes absent", Op::featureset_fits_max, 4, MAX_FS_WORDS,
         -EBADMSG},
        {"leaves MAX_SERIALISED_LEAVES + 1", Op::set_domain_policy, 4, MAX_SERIALISED_LEAVES + 1,
         -E2BIG},
        {"leaves 0x80000000", Op::set_domain_policy, 4, 0x80000000u, -E2BIG},
        {"msrs MAX_SERIALISED_MSRS + 1", Op::set_domain_policy, 8, MAX_SERIALISED_MSRS + 1, -E2BIG},
        {"msrs 0xffffffff", Op::set_domain_policy, 8, 0xffffffffu, -E2BIG},
    };
    for ( const Case &c : cases )
    {
        Request r;
        r.op = c.op;
        if ( c.op == Op::set_domain_policy )
            r.policy = small_policy();
        else
            r.words = {1, 2};
        std::vector<uint8_t> f = frame_of(r);
        set32(f, HEADER_SIZE + c.count_off, c.count);
        Request d;
        expect_eq(c.what, errname(c.expect), errname(decode_req_frame(f, d)));
    }
    // The encoders refuse to build such frames and leave the output alone.
    Request r;
    r.op = Op::featureset_fits_max;
    r.words.assign(MAX_FS_WORDS + 1, 0);
    std::vector<uint8_t> out = {42};
    expect_eq("encode MAX_FS_WORDS + 1 words", errname(-E2BIG), errname(encode_request(r, out)));
    expect_eq("encode: output untouched", size_t(1), out.size());
    r.op = Op::set_domain_policy;
    r.words.clear();
    r.policy.leaves.resize(MAX_SERIALISED_LEAVES + 1);
    expect_eq("encode too many leaves", errname(-E2BIG), errname(encode_request(r, out)));
    // A reply's featureset count, and a get_featureset size answer, bounded alike.
    Reply q;
    q.op = Op::get_featureset;
    q.has_body = true;
    q.words = {1};
    std::vector<uint8_t> f = frame_of(q);
    set32(f, HEADER_SIZE + REPLY_BASE + 4, MAX_FS_WORDS + 1);
    Reply d;
    expect_eq("reply featureset count", errname(-E2BIG), errname(decode_rep_frame(f, d)));
    set32(f, HEADER_SIZE + REPLY_BASE, 2);
    expect_eq("reply featureset form flag 2", errname(-EBADMSG), errname(decode_rep_frame(f, d)));
}

void direction_op_and_rc_are_checked()
{
    Request r;
    r.op = Op::domain_start;
    std::vector<uint8_t> f = frame_of(r);
    Request d;
    Reply e;
    set32(f, 8, FLAG_REPLY);
    expect_eq("request with FLAG_REPLY", errname(-EBADMSG), errname(decode_req_frame(f, d)));
    set32(f, 8, 0);
    expect_eq("request decoded as a reply", errname(-EBADMSG), errname(decode_rep_frame(f, e)));
    f[6] = 0;  // op 0
    f[7] = 0;
    expect_eq("op 0", errname(-EOPNOTSUPP), errname(decode_req_frame(f, d)));
    f[6] = OP_LAST + 1;
    expect_eq("op OP_LAST + 1", errname(-EOPNOTSUPP), errname(decode_req_frame(f, d)));

    // The server's answer to an op it does not know is a bare reply, and decodes.
    Reply u;
    u.op = Op(200);
    u.id = 5;
    u.rc = -EOPNOTSUPP;
    std::vector<uint8_t> g = frame_of(u);
    expect_eq("bare reply to unknown op decodes", 0, decode_rep_frame(g, e));
    expect_eq("bare reply to unknown op rc", -EOPNOTSUPP, e.rc);

    // A return value must be 0 or a negative errno.
    Reply ok;
    ok.op = Op::domain_start;
    std::vector<uint8_t> h = frame_of(ok);
    set32(h, HEADER_SIZE, 1);
    expect_eq("rc = 1", errname(-EBADMSG), errname(decode_rep_frame(h, e)));
    set32(h, HEADER_SIZE, uint32_t(-5000));
    expect_eq("rc = -5000", errname(-EBADMSG), errname(decode_rep_frame(h, e)));
    // A body on a bodiless op.
    h = frame_of(ok);
    h.push_back(0), h.push_back(0), h.push_back(0), h.push_back(0);
    set32(h, 12, uint32_t(REPLY_BASE + 4));
    expect_eq("body on domain_start reply", errname(-EBADMSG), errname(decode_rep_frame(h, e)));
}

void random_corruption_never_escapes_the_decoders()
{
    // Fuzz-style: flip bytes of valid frames, cut and extend them.  Whatever comes out is
    // 0 (the corruption happened to be valid) or one of the documented errors; sanitizers
    // or a crash would catch reads past the buffer.
    std::mt19937 rng(20261121);
    std::vector<std::vector<uint8_t>> seeds;
    for ( const Request &r : sample_requests() )
        seeds.push_back(frame_of(r));
    Reply r;
    r.op = Op::get_system_policy;
    r.has_body = true;
    r.policy = small_policy();
    seeds.push_back(frame_of(r));
    const int allowed[] = {0, -ENODATA, -EBADMSG, -EPROTONOSUPPORT, -EMSGSIZE, -E2BIG, -EOPNOTSUPP};
    unsigned bad = 0, accepted = 0, total = 0;
    for ( unsigned iter = 0; iter < 200000; ++iter )
    {
        std::vector<uint8_t> f = seeds[rng() % seeds.size()];
        unsigned flips = 1 + rng() % 4;
        for ( unsigned i = 0; i < flips; ++i )
            f[rng() % f.size()] ^= uint8_t(1u << (rng() % 8));
        if ( rng() % 8 == 0 )
            f.resize(rng() % (f.size() + 1));
        if ( rng() % 8 == 0 )
            f.insert(f.end(), rng() % 64, uint8_t(rng()));
        Header h;
        int rc = decode_header(f.data(), f.size(), h);
        if ( rc == 0 )
        {
            size_t have = f.size() - HEADER_SIZE;
            size_t n = have < h.len ? have : h.len;
            Request q;
            Reply p;
            rc = (h.flags & FLAG_REPLY) ? decode_reply(h, f.data() + HEADER_SIZE, n, p)
                                        : decode_request(h, f.data() + HEADER_SIZE, n, q);
        }
        bool ok = false;
        for ( int a : allowed )
            ok |= rc == a;
        bad += !ok;
        accepted += rc == 0;
        ++total;
    }
    expect_eq("corrupted frames with an undocumented result", 0u, bad);
    std::printf("  %u corrupted frames: %u still valid, %u refused\n", total, accepted,
                total - accepted);
}

// --- Policies ---------------------------------------------------------------------------
void policies_cross_the_wire_losslessly_within_their_ranges()
{
    unsigned n = 0;
    for ( const Dump &dp : dumps() )
    {
        Policy p = dp.p;
        policy_clear_out_of_range(p);
        Reply r;
        r.op = Op::get_system_policy;
        r.has_body = true;
        if ( !expect_eq(dp.name + " to wire", 0, policy_to_wire(p, r.policy)) )
            continue;
        Reply d;
        Policy back{};
        if ( !expect_eq(dp.name + " frame", 0, decode_rep_frame(frame_of(r), d)) ||
             !expect_eq(dp.name + " from wire", 0, wire_to_policy(d.policy, back, nullptr)) )
            continue;
        expect(dp.name + " same bytes", same_bytes_p(p, back));
        ++n;
    }
    expect("dumps crossed", n >= 20);
}


// --- The unix backend against a server thread --------------------------------------------
enum class Misbehave { none, wrong_id, wrong_op, bad_magic, hang_up, no_body, positive_rc, silent };

// 1: read; 0: the peer closed or failed; -1: timed out before the first byte.
int read_all(int fd, uint8_t *p, size_t n)
{
    bool started = false;
    while ( n )
    {
        ssize_t r = recv(fd, p, n, 0);
        if ( r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !started )
            return -1;
        if ( r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) )
            continue;
        if ( r <= 0 )
            return 0;
        started = true;
        p += r;
        n -= size_t(r);
    }
    return 1;
}

// A minimal cpupolicyd in a thread: frames decoded and answered with serve(), and, after
// hello, the chosen misbehaviour.
struct TestServer {
    Backend &b;
    std::string dir, path;
    int lfd = -1;
    std::atomic<bool> stop{false};
    std::atomic<Misbehave> mode{Misbehave::none};
    std::thread th;

    explicit TestServer(Backend &be) : b(be)
    {
        char tmpl[] = "/tmp/test_protocol.XXXXXX";
        dir = mkdtemp(tmpl) ? tmpl : "/tmp";
        path = dir + "/sock";
        lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        strcpy(sa.sun_path, path.c_str());
        if ( bind(lfd, (sockaddr *)&sa, sizeof(sa)) || listen(lfd, 8) )
        {
            std::printf("test bug: cannot listen on %s\n", path.c_str());
            std::exit(2);
        }
        th = std::thread([this] { run(); });
    }
    ~TestServer()
    {
        stop = true;
        th.join();
        close(lfd);
        unlink(path.c_str());
        rmdir(dir.c_str());
    }
    void run()
    {
        while ( !stop )
        {
            timeval tv{0, 50000};
            fd_set set;
            FD_ZERO(&set);
            FD_SET(lfd, &set);
            if ( select(lfd + 1, &set, nullptr, nullptr, &tv) <= 0 )
                continue;
            int fd = accept(lfd, nullptr, nullptr);
            if ( fd < 0 )
                continue;
            timeval rt{0, 100000};
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rt, sizeof(rt));
            serve_conn(fd);
            close(fd);
        }
    }
    void serve_conn(int fd)
    {
        for ( ;; )
        {
            uint8_t hb[HEADER_SIZE];
            int got;
            while ( (got = read_all(fd, hb, sizeof(hb))) < 0 )
                if ( stop )
                    return;
            if ( got == 0 )
                return;
            Header h;
            if ( decode_header(hb, sizeof(hb), h) )
                return;
            std::vector<uint8_t> payload(h.len);
            if ( read_all(fd, payload.data(), h.len) != 1 )
                return;
            Request q;
            Reply r;
            if ( int rc = decode_request(h, payload.data(), h.len, q) )
            {
                r.op = Op(h.op);
                r.id = h.id;
                r.rc = rc;
            }
            else
                serve(b, q, r);
            Misbehave m = q.op == Op::hello ? Misbehave::none : mode.load();
            if ( m == Misbehave::hang_up )
                return;
            if ( m == Misbehave::silent )
                continue;
            if ( m == Misbehave::wrong_id )
                r.id ^= 1;
            if ( m == Misbehave::wrong_op )
                r.op = q.op == Op::get_levelling_caps ? Op::domain_create : Op::get_levelling_caps;
            if ( m == Misbehave::no_body )
                r.has_body = false;
            std::vector<uint8_t> f;
            if ( encode_reply(r, f) )
                return;
            if ( m == Misbehave::bad_magic )
                f[0] ^= 0xff;
            if ( m == Misbehave::positive_rc )
                set32(f, HEADER_SIZE, 3);
            if ( send(fd, f.data(), f.size(), MSG_NOSIGNAL) != ssize_t(f.size()) )
                return;
        }
    }
};

std::unique_ptr<Backend> embedded(const char *dumpname)
{
    std::unique_ptr<Backend> b;
    std::string why, uri = "sim:dump=" + dumps_dir() + "/" + dumpname;
    if ( backend_open(b, uri.c_str(), why) )
    {
        std::printf("cannot open %s: %s\n", uri.c_str(), why.c_str());
        std::exit(1);
    }
    return b;
}

const char SNB[] = "GenuineIntel00206D5_SandyBridgeEP.txt";

void unix_backend_answers_as_the_embedded_one_call_for_call()
{
    auto direct = embedded(SNB), served = embedded(SNB);
    TestServer srv(*served);
    std::unique_ptr<Backend> u;
    std::string why;
    if ( !expect_eq("open unix:" + srv.path, 0, UnixBackend::open(srv.path, u, why)) )
        return;
    expect_eq("kind", std::string("unix"), std::string(u->kind()));

    // Featuresets: size query, exact, larger and short buffers, a bad index.
    for ( unsigned idx = 0; idx <= NR_FEATURESET_INDEX; ++idx )
        for ( uint32_t bufnr : {NR_QUERY, 0u, 3u, uint32_t(NR_FEATUREWORDS), 100u} )
        {
            uint32_t fa[100] = {}, fu[100] = {};
            uint32_t na = bufnr == NR_QUERY ? 0 : bufnr, nu = na;
            int ra = direct->get_featureset(idx, &na, bufnr == NR_QUERY ? nullptr : fa);
            int ru = u->get_featureset(idx, &nu, bufnr == NR_QUERY ? nullptr : fu);
            std::string w = "get_featureset(" + str(idx) + ", nr " + str(bufnr) + ")";
            expect_eq(w + " rc", errname(ra), errname(ru));
            expect_eq(w + " nr", na, nu);
            expect(w + " words", !memcmp(fa, fu, sizeof(fa)));
        }
    // System policies, compared within their ranges.
    for ( unsigned idx = 0; idx <= NR_POLICY_INDEX; ++idx )
    {
        Policy pa{}, pu{};
        int ra = direct->get_system_policy(idx, pa), ru = u->get_system_policy(idx, pu);
        expect_eq("get_system_policy(" + str(idx) + ") rc", errname(ra), errname(ru));
        policy_clear_out_of_range(pa);
        policy_clear_out_of_range(pu);
        expect("get_system_policy(" + str(idx) + ") same in range", same_bytes_p(pa, pu));
    }
    uint32_t ca = 0, cu = 1;
    expect_eq("levelling caps rc", 0, u->get_levelling_caps(&cu));
    expect_eq("levelling caps rc (direct)", 0, direct->get_levelling_caps(&ca));
    expect_eq("levelling caps", ca, cu);

    // featureset_fits_max: fine, a feature beyond max, words beyond this build (folded).
    uint32_t host[100] = {}, nr = NR_FEATUREWORDS;
    if ( direct->get_featureset(1, &nr, host) )
        return;
    std::vector<std::pair<std::string, std::vector<uint32_t>>> sets = {
        {"host", std::vector<uint32_t>(host, host + NR_FEATUREWORDS)},
        {"all ones", std::vector<uint32_t>(NR_FEATUREWORDS, ~0u)},
        {"100 words, zero tail", std::vector<uint32_t>(host, host + 100)},
        {"empty", {}},
    };
    std::vector<uint32_t> tail(host, host + 100);
    tail[99] = 1;  // only word 99: folded into word 63, still -EOPNOTSUPP
    sets.push_back({"100 words, word 99 set", tail});
    for ( const auto &[name, fs] : sets )
        for ( unsigned idx : {2u, 4u, 9u} )
        {
            uint32_t ba = ~0u, bu = ~0u;
            int ra = direct->featureset_fits_max(idx, fs.data(), uint32_t(fs.size()), &ba);
            int ru = u->featureset_fits_max(idx, fs.data(), uint32_t(fs.size()), &bu);
            std::string w = "featureset_fits_max(" + str(idx) + ", " + name + ")";
            expect_eq(w + " rc", errname(ra), errname(ru));
            expect_eq(w + " bad feature", ba, bu);
        }

    // Domains: the same sequence on both hosts gives the same ids, results and records.
    uint32_t pa = 0, pu = 0, ha = 0, hu = 0, xa = 0, xu = 0;
    expect_eq("create pv", errname(direct->domain_create(0, &pa)), errname(u->domain_create(0, &pu)));
    expect_eq("create hvm", errname(direct->domain_create(1, &ha)), errname(u->domain_create(1, &hu)));
    expect_eq("create type 2", errname(direct->domain_create(2, &xa)), errname(u->domain_create(2, &xu)));
    expect_eq("pv domid", pa, pu);
    expect_eq("hvm domid", ha, hu);
    {
        Policy a{}, b{};
        expect_eq("get_domain_policy(999)", errname(direct->get_domain_policy(999, a)),
                  errname(u->get_domain_policy(999, b)));
    }
    // An HVM max policy on a PV domain fails the max check, with a leaf named.
    Policy hvm_max{};
    if ( direct->get_system_policy(unsigned(PolicyIndex::hvm_max), hvm_max) )
        return;
    ErrRecord ea, eu;
    int ra = direct->set_domain_policy(pa, hvm_max, &ea), ru = u->set_domain_policy(pu, hvm_max, &eu);
    expect_eq("set hvm max on pv rc", errname(ra), errname(ru));
    expect("set hvm max on pv fails", ra != 0);
    expect_err("set hvm max on pv err", ea, eu);
    // A featureset without SSE2 (word 0 bit 26) takes its dependents with it.
    std::vector<uint32_t> nosse2(host, host + NR_FEATUREWORDS);
    nosse2[0] &= ~(1u << 26);
    ra = direct->set_featureset(pa, nosse2.data(), NR_FEATUREWORDS, &ea);
    ru = u->set_featureset(pu, nosse2.data(), NR_FEATUREWORDS, &eu);
    expect_eq("set_featureset no sse2 rc", errname(ra), errname(ru));
    expect_err("set_featureset no sse2 err", ea, eu);
    {
        Policy a{}, b{};
        expect_eq("get pv policy rc", 0, direct->get_domain_policy(pa, a));
        expect_eq("get pv policy rc (unix)", 0, u->get_domain_policy(pu, b));
        policy_clear_out_of_range(a);
        policy_clear_out_of_range(b);
        expect("pv policy after set_featureset same in range", same_bytes_p(a, b));
        // Setting back what we read succeeds on both: the wire form is a valid policy.
        expect_eq("set read-back policy rc", errname(direct->set_domain_policy(pa, a, &ea)),
                  errname(u->set_domain_policy(pu, b, &eu)));
    }
    expect_eq("start", errname(direct->domain_start(pa)), errname(u->domain_start(pu)));
    expect_eq("start again", errname(direct->domain_start(pa)), errname(u->domain_start(pu)));
    {
        Policy a{};
        expect_eq("get pv policy", 0, direct->get_domain_policy(pa, a));
        ra = direct->set_domain_policy(pa, a, &ea);
        ru = u->set_domain_policy(pu, a, &eu);
        expect_eq("set after start", errname(-EEXIST), errname(ru));
        expect_eq("set after start (direct)", errname(ra), errname(ru));
    }
    expect_eq("destroy", errname(direct->domain_destroy(pa)), errname(u->domain_destroy(pu)));
    expect_eq("destroy again", errname(direct->domain_destroy(pa)), errname(u->domain_destroy(pu)));
    expect_eq("destroy control domain", errname(direct->domain_destroy(0)),
              errname(u->domain_destroy(0)));
}

void bad_replies_are_eproto_and_the_next_call_reconnects()
{
    auto served = embedded(SNB);
    TestServer srv(*served);
    struct Case {
        const char *what;
        Misbehave m;
        int expect;
    };
    const Case cases[] = {
        {"reply with another id", Misbehave::wrong_id, -EPROTO},
        {"reply to another op", Misbehave::wrong_op, -EPROTO},
        {"reply with bad magic", Misbehave::bad_magic, -EPROTO},
        {"reply without its body", Misbehave::no_body, -EPROTO},
        {"reply with rc > 0", Misbehave::positive_rc, -EPROTO},
        {"daemon hangs up", Misbehave::hang_up, -ECONNRESET},
        {"daemon never answers", Misbehave::silent, -ETIMEDOUT},
    };
    for ( const Case &c : cases )
    {
        srv.mode = Misbehave::none;
        std::unique_ptr<Backend> u;
        std::string why;
        if ( !expect_eq(std::string(c.what) + ": open", 0, UnixBackend::open(srv.path, u, why, 300)) )
            continue;
        srv.mode = c.m;
        uint32_t caps = 0;
        expect_eq(c.what, errname(c.expect), errname(u->get_levelling_caps(&caps)));
        srv.mode = Misbehave::none;
        expect_eq(std::string(c.what) + ": next call reconnects", 0, u->get_levelling_caps(&caps));
    }
}

void open_errors_say_why_the_daemon_cannot_be_reached()
{
    char tmpl[] = "/tmp/test_protocol.XXXXXX";
    std::string dir = mkdtemp(tmpl) ? tmpl : "/tmp";
    std::unique_ptr<Backend> u;
    std::string why;
    expect_eq("no socket", errname(-ENOENT), errname(UnixBackend::open(dir + "/none", u, why)));
    expect("no socket: message names the path", why.find(dir + "/none") != std::string::npos);
    // A socket file nobody listens on (a daemon that died without cleaning up).
    std::string dead = dir + "/dead";
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, dead.c_str());
    expect_eq("bind test socket", 0, bind(fd, (sockaddr *)&sa, sizeof(sa)));
    close(fd);
    expect_eq("stale socket", errname(-ECONNREFUSED), errname(UnixBackend::open(dead, u, why)));
    unlink(dead.c_str());
    rmdir(dir.c_str());
    expect_eq("path too long", errname(-ENAMETOOLONG),
              errname(UnixBackend::open("/" + std::string(200, 'x'), u, why)));
    expect_eq("empty path", errname(-EINVAL), errname(UnixBackend::open("", u, why)));
    // Through backend_open, as cpupolicy_open("unix:...") does.
    expect_eq("backend_open unix:/nonexistent", errname(-ENOENT),
              errname(backend_open(u, "unix:/nonexistent/cpupolicyd.sock", why)));
}

void featureset_folding_keeps_the_beyond_words_meaning()
{
    std::vector<uint32_t> fs(100, 0);
    fs[0] = 5;
    fs[80] = 0x10;
    std::vector<uint32_t> w = fold_featureset(fs.data(), 100);
    expect_eq("folded length", size_t(MAX_FS_WORDS), w.size());
    expect_eq("word 0 kept", 5u, w[0]);
    expect_eq("word 80 folded into the last", 0x10u, w[MAX_FS_WORDS - 1]);
    expect_eq("short sets unchanged", size_t(3), fold_featureset(fs.data(), 3).size());
}

// The hook cpupolicyd's --state-dir restore uses (hypervisor.hpp).
void domain_create_with_id_restores_chosen_domids()
{
    auto b = embedded(SNB);
    sim::SimMachine &m = static_cast<EmbeddedBackend &>(*b).machine();
    auto create_at = [&](DomId caller, unsigned type, DomId id) {
        return m.on_cpu(0, [&](Hypervisor &hv) {
            return hv.domain_create_with_id(caller, DomainType(type), id);
        });
    };
    expect_eq("domid 7", errname(0), errname(create_at(CONTROL_DOMID, 1, 7)));
    expect_eq("domid 7 again", errname(-EEXIST), errname(create_at(CONTROL_DOMID, 0, 7)));
    expect_eq("domid 0 (the control domain's)", errname(-EINVAL), errname(create_at(CONTROL_DOMID, 0, 0)));
    expect_eq("domid DOMID_FIRST_RESERVED", errname(-EINVAL),
              errname(create_at(CONTROL_DOMID, 0, DOMID_FIRST_RESERVED)));
    expect_eq("type 2", errname(-EINVAL), errname(create_at(CONTROL_DOMID, 2, 9)));
    expect_eq("caller other than the control domain", errname(-EPERM), errname(create_at(7, 0, 9)));
    expect_eq("domid 3, below the one restored", errname(0), errname(create_at(CONTROL_DOMID, 0, 3)));
    DomainInfo info{};
    expect_eq("domain 7 info", 0, m.on_cpu(0, [&](Hypervisor &hv) {
        return hv.get_domain_info(CONTROL_DOMID, 7, info);
    }));
    expect_eq("domain 7 is HVM", unsigned(DomainType::hvm), unsigned(info.type));
    expect_eq("domain 7 not started", false, info.started);
    uint32_t next = 0;
    expect_eq("automatic create", 0, b->domain_create(0, &next));
    expect_eq("automatic domids continue above the highest restored", 8u, next);
    // No fixed pool: 100 more at chosen ids, up to the highest domid.
    unsigned made = 0;
    for ( DomId id = DOMID_FIRST_RESERVED - 100; id < DOMID_FIRST_RESERVED; ++id )
        made += create_at(CONTROL_DOMID, 0, id) == 0;
    expect_eq("100 domains at the top of the domid range", 100u, made);
}

} // namespace

int main()
{
    TEST(header_layout_is_pinned_byte_for_byte);
    TEST(header_errors_are_each_their_own);
    TEST(every_request_round_trips);
    TEST(every_reply_round_trips);
    TEST(every_truncated_or_padded_payload_is_ebadmsg);
    TEST(counts_beyond_their_bound_are_e2big_before_the_size_is_used);
    TEST(direction_op_and_rc_are_checked);
    TEST(random_corruption_never_escapes_the_decoders);
    TEST(policies_cross_the_wire_losslessly_within_their_ranges);
    TEST(featureset_folding_keeps_the_beyond_words_meaning);
    TEST(open_errors_say_why_the_daemon_cannot_be_reached);
    TEST(unix_backend_answers_as_the_embedded_one_call_for_call);
    TEST(bad_replies_are_eproto_and_the_next_call_reconnects);
    TEST(domain_create_with_id_restores_chosen_domids);
    return finish();
}
