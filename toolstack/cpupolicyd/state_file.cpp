// SPDX-License-Identifier: MIT
#include "state_file.hpp"

#include <errno.h>
#include <stdio.h>
#include <zlib.h>

namespace cpupolicy::daemon {

namespace {

void put32(std::vector<uint8_t> &b, uint32_t v)
{
    for ( unsigned i = 0; i < 4; ++i )
        b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void set32(uint8_t *p, uint32_t v)
{
    for ( unsigned i = 0; i < 4; ++i )
        p[i] = static_cast<uint8_t>(v >> (8 * i));
}

uint32_t crc32_of(const uint8_t *p, size_t n)
{
    // zlib takes uInt lengths: feed it in pieces (a state file can exceed 4 GiB only in
    // theory, but the loop costs nothing).
    uLong crc = crc32(0L, Z_NULL, 0);
    while ( n )
    {
        uInt chunk = n > (1u << 30) ? (1u << 30) : static_cast<uInt>(n);
        crc = crc32(crc, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return static_cast<uint32_t>(crc);
}

std::string hex32(uint32_t v)
{
    char b[16];
    snprintf(b, sizeof(b), "%#010x", v);
    return b;
}

struct Cursor {
    const uint8_t *base;
    const uint8_t *p;
    size_t left;
    size_t offset() const { return static_cast<size_t>(p - base); }
    bool u32(uint32_t *v)
    {
        if ( left < 4 )
            return false;
        *v = uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
        p += 4;
        left -= 4;
        return true;
    }
};

// The payload (versions 1 and 2 differ only by the next domid).
int decode_payload(Cursor &c, uint32_t version, StateFile &s, std::string &why)
{
    auto bad = [&](const std::string &what) {
        why = what + " (at byte " + std::to_string(c.offset()) + ")";
        return -EBADMSG;
    };
    uint32_t idlen, nr;
    if ( !c.u32(&idlen) )
        return bad("truncated before the host id");
    if ( idlen > MAX_HOST_ID || idlen > c.left )
        return bad("host id length " + std::to_string(idlen) + " beyond the file or " +
                   std::to_string(MAX_HOST_ID) + " bytes");
    s.host_id.assign(reinterpret_cast<const char *>(c.p), idlen);
    c.p += idlen;
    c.left -= idlen;
    s.next_domid = 1;
    if ( version >= 2 )
    {
        if ( !c.u32(&s.next_domid) )
            return bad("truncated before the next domid");
        if ( s.next_domid == CONTROL_DOMID || s.next_domid >= DOMID_FIRST_RESERVED )
            return bad("next domid " + std::to_string(s.next_domid) + " out of range 1.." +
                       std::to_string(DOMID_FIRST_RESERVED - 1));
    }
    if ( !c.u32(&nr) )
        return bad("truncated before the domain count");
    if ( nr >= DOMID_FIRST_RESERVED )
        return bad("domain count " + std::to_string(nr) + " beyond the domid space");
    for ( uint32_t i = 0; i < nr; ++i )
    {
        DomainRecord r;
        uint32_t domid, type, started, nr_vcpus;
        std::string which = "domain record " + std::to_string(i);
        if ( !c.u32(&domid) || !c.u32(&type) || !c.u32(&started) || !c.u32(&nr_vcpus) )
            return bad("truncated " + which);
        which += " (domid " + std::to_string(domid) + ")";
        if ( domid == CONTROL_DOMID || domid >= DOMID_FIRST_RESERVED )
            return bad(which + ": domid out of range 1.." + std::to_string(DOMID_FIRST_RESERVED - 1));
        if ( !s.domains.empty() && domid <= s.domains.back().domid )
            return bad(which + ": domids not in increasing order");
        if ( type > 1 )
            return bad(which + ": type " + std::to_string(type) + " is neither 0 (PV) nor 1 (HVM)");
        if ( started > 1 )
            return bad(which + ": started flag " + std::to_string(started) + " is neither 0 nor 1");
        if ( nr_vcpus == 0 || nr_vcpus > MAX_VCPUS )
            return bad(which + ": " + std::to_string(nr_vcpus) + " vCPUs, expected 1.." +
                       std::to_string(MAX_VCPUS));
        size_t used = 0;
        int rc = proto::decode_policy(c.p, c.left, &used, r.policy);
        if ( rc )
            return bad(which + ": policy " +
                       (rc == -E2BIG ? "counts beyond the wire format's bounds" : "truncated"));
        c.p += used;
        c.left -= used;
        r.domid = domid;
        r.type = static_cast<DomainType>(type);
        r.started = started;
        r.nr_vcpus = nr_vcpus;
        s.domains.push_back(std::move(r));
    }
    if ( version < 2 )
    {
        // Version 1 did not save it: continue above the highest restored domid.
        if ( !s.domains.empty() && s.domains.back().domid + 1 < DOMID_FIRST_RESERVED )
            s.next_domid = s.domains.back().domid + 1;
    }
    if ( c.left )
        return bad(std::to_string(c.left) + " trailing bytes after the last domain");
    return 0;
}

} // namespace

int state_encode(const StateFile &s, std::vector<uint8_t> &out)
{
    if ( s.host_id.size() > MAX_HOST_ID )
        return -E2BIG;
    std::vector<uint8_t> b(STATE_HEADER_SIZE);
    put32(b, static_cast<uint32_t>(s.host_id.size()));
    b.insert(b.end(), s.host_id.begin(), s.host_id.end());
    put32(b, s.next_domid);
    put32(b, static_cast<uint32_t>(s.domains.size()));
    for ( const DomainRecord &r : s.domains )
    {
        put32(b, r.domid);
        put32(b, static_cast<uint32_t>(r.type));
        put32(b, r.started ? 1 : 0);
        put32(b, r.nr_vcpus);
        if ( int rc = proto::encode_policy(r.policy, b) )
            return rc;
    }
    size_t payload = b.size() - STATE_HEADER_SIZE;
    set32(b.data(), STATE_MAGIC);
    set32(b.data() + 4, STATE_VERSION);
    set32(b.data() + 8, static_cast<uint32_t>(payload));
    set32(b.data() + 12, crc32_of(b.data() + STATE_HEADER_SIZE, payload));
    out.insert(out.end(), b.begin(), b.end());
    return 0;
}

int state_decode(const uint8_t *buf, size_t len, StateFile &out, std::string &why)
{
    Cursor c{buf, buf, buf ? len : 0};
    uint32_t magic, version;
    if ( !c.u32(&magic) || magic != STATE_MAGIC )
    {
        why = "not a cpupolicyd state file (no \"CPDS\" magic at byte 0)";
        return -EBADMSG;
    }
    if ( !c.u32(&version) )
    {
        why = "truncated before the version (at byte 4)";
        return -EBADMSG;
    }
    if ( version != 1 && version != STATE_VERSION )
    {
        why = "state file version " + std::to_string(version) + ", this cpupolicyd reads 1 and " +
              std::to_string(STATE_VERSION);
        return -EPROTONOSUPPORT;
    }
    if ( version >= 2 )
    {
        uint32_t plen, crc;
        if ( !c.u32(&plen) || !c.u32(&crc) )
        {
            why = "truncated header (" + std::to_string(len) + " bytes, a header is " +
                  std::to_string(STATE_HEADER_SIZE) + ")";
            return -EBADMSG;
        }
        if ( plen != c.left )
        {
            why = "payload length " + std::to_string(plen) + " in the header, but " +
                  std::to_string(c.left) + " bytes follow it (" +
                  (plen > c.left ? "truncated" : "trailing bytes") + ")";
            return -EBADMSG;
        }
        uint32_t actual = crc32_of(c.p, c.left);
        if ( actual != crc )
        {
            why = "checksum mismatch: the header says CRC-32 " + hex32(crc) +
                  ", the payload's is " + hex32(actual) + " (the file is damaged)";
            return -EBADMSG;
        }
    }
    StateFile s;
    s.version = version;
    if ( int rc = decode_payload(c, version, s, why) )
        return rc;
    out = std::move(s);
    return 0;
}

} // namespace cpupolicy::daemon
