// SPDX-License-Identifier: MIT
// cpupolicyd: one simulated host (the simulated hypervisor of hypervisor/sim, booted on a
// dump or on this machine's CPU) serving its hypercalls over a UNIX socket, so that
// libcpupolicy's "unix:PATH" backend reaches it like a remote host.  Protocol, permissions
// and state directory: docs/cpupolicyd.md; usage: cpupolicyd.8.
//
// One thread, one poll() loop: the SimMachine is single-threaded, and every request is a
// few microseconds of work, so serialising them costs nothing and needs no locks.  Each
// connection keeps its own input and output buffer; a client that stops mid-frame or stops
// reading is closed after io_timeout_ms without affecting the others.
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <list>
#include <memory>
#include <string>
#include <vector>

#include "backend_embedded.hpp"
#include "protocol.hpp"

using namespace cpupolicy;

namespace {

int io_timeout_ms = 10000;                  // a stalled partial frame / unread reply
constexpr size_t OUT_HIGH_WATER = 256 * 1024;  // stop decoding while this much is unsent
constexpr size_t READ_CHUNK = 64 * 1024;
const char STATE_FILE[] = "domains.state";
constexpr uint32_t STATE_MAGIC = 0x53445043u;  // "CPDS"
constexpr uint32_t STATE_VERSION = 1;

// --- Logging ----------------------------------------------------------------------------
FILE *logf = stderr;
bool verbose = false;

__attribute__((format(printf, 1, 2))) void logmsg(const char *fmt, ...)
{
    char ts[32];
    time_t now = time(nullptr);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(logf, "%s cpupolicyd[%d]: ", ts, static_cast<int>(getpid()));
    va_list ap;
    va_start(ap, fmt);
    vfprintf(logf, fmt, ap);
    va_end(ap);
    fputc('\n', logf);
    fflush(logf);
}

int64_t now_ms()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// --- Little-endian helpers for the state file -------------------------------------------
void put32(std::vector<uint8_t> &b, uint32_t v)
{
    for ( unsigned i = 0; i < 4; ++i )
        b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

struct Cursor {
    const uint8_t *p;
    size_t left;
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

// --- The host ---------------------------------------------------------------------------
struct Daemon {
    std::unique_ptr<EmbeddedBackend> backend;
    std::string host_id;       // dump/boot/cpus, recorded in the state file
    std::string state_dir;
    uid_t my_uid = 0;

    int save_state();
    int restore_state();
};

// State file, little-endian: magic, version, host-id length + bytes, domain count, then
// per domain: domid, type, started, nr_vcpus, policy as the protocol carries it (counts,
// then 6 x u32 per leaf and idx, flags, val-lo, val-hi per MSR).
int Daemon::save_state()
{
    if ( state_dir.empty() )
        return 0;
    DomainInfo info[MAX_DOMAINS];
    unsigned n = backend->machine().hv().list_domains(info, MAX_DOMAINS);
    if ( n > MAX_DOMAINS )
        n = MAX_DOMAINS;
    std::vector<uint8_t> b;
    put32(b, STATE_MAGIC);
    put32(b, STATE_VERSION);
    put32(b, static_cast<uint32_t>(host_id.size()));
    b.insert(b.end(), host_id.begin(), host_id.end());
    std::vector<uint8_t> doms;
    uint32_t nr = 0;
    for ( unsigned i = 0; i < n; ++i )
    {
        if ( info[i].domid == CONTROL_DOMID )
            continue;  // built at boot, never saved
        Policy p{};
        proto::PolicyWire w;
        int rc = backend->get_domain_policy(info[i].domid, p);
        if ( rc == 0 )
            rc = proto::policy_to_wire(p, w);
        if ( rc )
        {
            logmsg("state: cannot read domain %u's policy: %s", info[i].domid, strerror(-rc));
            return rc;
        }
        put32(doms, info[i].domid);
        put32(doms, static_cast<uint32_t>(info[i].type));
        put32(doms, info[i].started ? 1 : 0);
        put32(doms, info[i].nr_vcpus);
        put32(doms, static_cast<uint32_t>(w.leaves.size()));
        put32(doms, static_cast<uint32_t>(w.msrs.size()));
        for ( const WireLeaf &l : w.leaves )
            for ( uint32_t v : {l.leaf, l.subleaf, l.a, l.b, l.c, l.d} )
                put32(doms, v);
        for ( const WireMsr &m : w.msrs )
            for ( uint32_t v : {m.idx, m.flags, uint32_t(m.val), uint32_t(m.val >> 32)} )
                put32(doms, v);
        ++nr;
    }
    put32(b, nr);
    b.insert(b.end(), doms.begin(), doms.end());

    // Atomic replacement: a crash leaves either the old file or the new one, whole
    // (write a temporary, fsync it, rename over, fsync the directory for the rename).
    std::string path = state_dir + "/" + STATE_FILE, tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if ( fd < 0 )
    {
        int e = errno;
        logmsg("state: %s: %s", tmp.c_str(), strerror(e));
        return -e;
    }
    size_t off = 0;
    while ( off < b.size() )
    {
        ssize_t w = write(fd, b.data() + off, b.size() - off);
        if ( w < 0 && errno == EINTR )
            continue;
        if ( w <= 0 )
        {
            int e = w < 0 ? errno : EIO;
            close(fd);
            unlink(tmp.c_str());
            logmsg("state: writing %s: %s", tmp.c_str(), strerror(e));
            return -e;
        }
        off += static_cast<size_t>(w);
    }
    if ( fsync(fd) != 0 || close(fd) != 0 )
    {
        int e = errno;
        unlink(tmp.c_str());
        logmsg("state: syncing %s: %s", tmp.c_str(), strerror(e));
        return -e;
    }
    if ( rename(tmp.c_str(), path.c_str()) != 0 )
    {
        int e = errno;
        unlink(tmp.c_str());
        logmsg("state: rename to %s: %s", path.c_str(), strerror(e));
        return -e;
    }
    int dfd = ::open(state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if ( dfd >= 0 )
    {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

int Daemon::restore_state()
{
    std::string path = state_dir + "/" + STATE_FILE;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if ( fd < 0 )
    {
        if ( errno == ENOENT )
            return 0;  // first start
        int e = errno;
        logmsg("state: %s: %s", path.c_str(), strerror(e));
        return -e;
    }
    std::vector<uint8_t> b;
    uint8_t chunk[65536];
    for ( ;; )
    {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if ( r < 0 && errno == EINTR )
            continue;
        if ( r < 0 )
        {
            int e = errno;
            close(fd);
            logmsg("state: reading %s: %s", path.c_str(), strerror(e));
            return -e;
        }
        if ( r == 0 )
            break;
        b.insert(b.end(), chunk, chunk + r);
        if ( b.size() > (MAX_DOMAINS + 1) * (proto::POLICY_MAX_BYTES + 64) + 4096 )
        {
            close(fd);
            logmsg("state: %s is larger than any state this build writes", path.c_str());
            return -EFBIG;
        }
    }
    close(fd);

    Cursor c{b.data(), b.size()};
    uint32_t magic, version, idlen, nr;
    auto bad = [&](const char *what) {
        logmsg("state: %s: %s", path.c_str(), what);
        return -EBADMSG;
    };
    if ( !c.u32(&magic) || magic != STATE_MAGIC || !c.u32(&version) )
        return bad("not a cpupolicyd state file");
    if ( version != STATE_VERSION )
        return bad("unsupported state file version");
    if ( !c.u32(&idlen) || idlen > c.left || idlen > 4096 )
        return bad("truncated host id");
    std::string saved_host(reinterpret_cast<const char *>(c.p), idlen);
    c.p += idlen;
    c.left -= idlen;
    if ( saved_host != host_id )
        logmsg("state: saved by a daemon on host '%s', restoring on '%s'", saved_host.c_str(),
               host_id.c_str());
    if ( !c.u32(&nr) || nr >= MAX_DOMAINS )
        return bad("bad domain count");

    for ( uint32_t i = 0; i < nr; ++i )
    {
        uint32_t domid, type, started, nr_vcpus, nr_leaves, nr_msrs;
        if ( !c.u32(&domid) || !c.u32(&type) || !c.u32(&started) || !c.u32(&nr_vcpus) ||
             !c.u32(&nr_leaves) || !c.u32(&nr_msrs) )
            return bad("truncated domain record");
        if ( type > 1 || started > 1 || nr_leaves > MAX_SERIALISED_LEAVES ||
             nr_msrs > MAX_SERIALISED_MSRS )
            return bad("domain record out of range");
        proto::PolicyWire w;
        w.leaves.resize(nr_leaves);
        w.msrs.resize(nr_msrs);
        for ( WireLeaf &l : w.leaves )
            if ( !c.u32(&l.leaf) || !c.u32(&l.subleaf) || !c.u32(&l.a) || !c.u32(&l.b) ||
                 !c.u32(&l.c) || !c.u32(&l.d) )
                return bad("truncated policy");
        for ( WireMsr &m : w.msrs )
        {
            uint32_t lo, hi;
            if ( !c.u32(&m.idx) || !c.u32(&m.flags) || !c.u32(&lo) || !c.u32(&hi) )
                return bad("truncated policy");
            m.val = uint64_t(hi) << 32 | lo;
        }
        Policy p{};
        ErrRecord err;
        int rc = proto::wire_to_policy(w, p, &err);
        if ( rc == 0 )
            rc = backend->machine().on_cpu(0, [&](Hypervisor &hv) {
                return hv.domain_create_with_id(CONTROL_DOMID, static_cast<DomainType>(type),
                                                domid, nr_vcpus);
            });
        if ( rc == 0 )
            rc = backend->set_domain_policy(domid, p, &err);
        if ( rc == 0 && started )
            rc = backend->domain_start(domid);
        if ( rc )
        {
            logmsg("state: cannot restore domain %u: %s (leaf %#x subleaf %#x msr %#x)", domid,
                   strerror(-rc), err.leaf, err.subleaf, err.msr);
            return rc;
        }
        logmsg("state: restored domain %u (%s%s)", domid, type ? "hvm" : "pv",
               started ? ", started" : "");
    }
    if ( c.left )
        return bad("trailing bytes");
    return 0;
}

// --- Connections ------------------------------------------------------------------------
struct Client {
    int fd = -1;
    pid_t pid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    bool may_write = false;
    bool closing = false;         // close once `out` is flushed
    std::vector<uint8_t> in;
    std::vector<uint8_t> out;
    size_t out_off = 0;
    int64_t last_progress = 0;
};

struct Server {
    Daemon &d;
    int listen_fd = -1;
    std::list<Client> clients;
    size_t max_clients;
    uint64_t nr_requests = 0, nr_refused = 0;

    void accept_all();
    // false: close the connection now.
    bool on_readable(Client &c);
    bool on_writable(Client &c);
    void process(Client &c);
    void reply(Client &c, const proto::Reply &r);
    void drop(Client &c, const char *why);
};

void Server::drop(Client &c, const char *why)
{
    if ( why )
        logmsg("closed connection from pid %d uid %u: %s", int(c.pid), unsigned(c.uid), why);
    close(c.fd);
    c.fd = -1;
}

void Server::accept_all()
{
    for ( ;; )
    {
        int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if ( fd < 0 )
        {
            if ( errno == EINTR )
                continue;
            if ( errno != EAGAIN && errno != EWOULDBLOCK )
                logmsg("accept: %s", strerror(errno));
            return;
        }
        ucred cred{};
        socklen_t len = sizeof(cred);
        if ( getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 )
        {
            logmsg("refused a connection: SO_PEERCRED: %s", strerror(errno));
            close(fd);
            continue;
        }
        if ( clients.size() >= max_clients )
        {
            logmsg("refused a connection from pid %d uid %u: %zu clients already (--max-clients)",
                   int(cred.pid), unsigned(cred.uid), clients.size());
            ++nr_refused;
            close(fd);
            continue;
        }
        Client c;
        c.fd = fd;
        c.pid = cred.pid;
        c.uid = cred.uid;
        c.gid = cred.gid;
        // Xen lets only the control domain change domains; here the daemon's owner (and
        // root) stands in for it.  Everyone who could connect (the socket is 0600, so by
        // default the same set of users) may read.
        c.may_write = cred.uid == 0 || cred.uid == d.my_uid;
        c.last_progress = now_ms();
        clients.push_back(std::move(c));
        if ( verbose )
            logmsg("connection from pid %d uid %u (%s)", int(cred.pid), unsigned(cred.uid),
                   clients.back().may_write ? "read-write" : "read-only");
    }
}

void Server::reply(Client &c, const proto::Reply &r)
{
    std::vector<uint8_t> f;
    if ( int rc = proto::encode_reply(r, f) )
    {
        // Cannot happen for replies built by serve(); answer the failure instead.
        proto::Reply e;
        e.op = r.op;
        e.id = r.id;
        e.rc = rc;
        if ( proto::encode_reply(e, f) )
            return;
    }
    c.out.insert(c.out.end(), f.begin(), f.end());
}

void Server::process(Client &c)
{
    size_t pos = 0;
    while ( !c.closing && c.out.size() - c.out_off < OUT_HIGH_WATER )
    {
        size_t avail = c.in.size() - pos;
        if ( avail < proto::HEADER_SIZE )
            break;
        proto::Header h;
        int rc = proto::decode_header(c.in.data() + pos, avail, h);
        if ( rc == -EBADMSG )
        {
            // No frame boundary can be trusted any more: nothing to answer, close.
            ++nr_refused;
            const uint8_t *b = c.in.data() + pos;
            logmsg("refused a frame from pid %d uid %u: bad magic or reserved flags "
                   "(header bytes %02x%02x%02x%02x ... flags %02x%02x%02x%02x), closing",
                   int(c.pid), unsigned(c.uid), b[0], b[1], b[2], b[3], b[8], b[9], b[10], b[11]);
            c.closing = true;
            break;
        }
        if ( rc )
        {
            // Version or size: answer it (the client learns why), then close, since we will
            // not read an oversized payload.
            ++nr_refused;
            logmsg("refused %s from pid %d uid %u: %s (version %u, payload %u bytes, max %u)",
                   proto::op_name(h.op), int(c.pid), unsigned(c.uid), strerror(-rc),
                   h.version, h.len, proto::MAX_PAYLOAD);
            proto::Reply r;
            r.op = static_cast<proto::Op>(h.op);
            r.id = h.id;
            r.rc = rc;
            reply(c, r);
            c.closing = true;
            break;
        }
        if ( avail < proto::HEADER_SIZE + h.len )
            break;  // wait for the rest of the payload

        const uint8_t *payload = c.in.data() + pos + proto::HEADER_SIZE;
        pos += proto::HEADER_SIZE + h.len;
        ++nr_requests;

        proto::Request q;
        proto::Reply r;
        rc = proto::decode_request(h, payload, h.len, q);
        if ( rc )
        {
            // The frame boundary is sound, so answer and keep the connection.
            ++nr_refused;
            logmsg("refused %s from pid %d uid %u: malformed payload (%u bytes): %s",
                   proto::op_name(h.op), int(c.pid), unsigned(c.uid), h.len, strerror(-rc));
            r.op = static_cast<proto::Op>(h.op);
            r.id = h.id;
            r.rc = rc;
            reply(c, r);
            continue;
        }
        if ( proto::op_mutates(q.op) && !c.may_write )
        {
            ++nr_refused;
            logmsg("refused %s (arg %u) from pid %d uid %u: permission denied: only root or "
                   "uid %u may change domains",
                   proto::op_name(h.op), q.arg, int(c.pid), unsigned(c.uid),
                   unsigned(d.my_uid));
            r.op = q.op;
            r.id = q.id;
            r.rc = -EPERM;
            reply(c, r);
            continue;
        }
        proto::serve(*d.backend, q, r);
        if ( q.op == proto::Op::hello )
            r.hello.access = c.may_write ? proto::ACCESS_WRITE : 0;
        if ( verbose && r.rc )
            logmsg("%s (arg %u) from pid %d: %s", proto::op_name(h.op), q.arg, int(c.pid),
                   strerror(-r.rc));
        if ( proto::op_mutates(q.op) && r.rc == 0 && !d.state_dir.empty() )
            if ( int src = d.save_state() )
                logmsg("%s on domain %u done, but the state dir was not updated: %s",
                       proto::op_name(h.op), q.op == proto::Op::domain_create ? r.value : q.arg,
                       strerror(-src));
        reply(c, r);
    }
    c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(pos));
}

bool Server::on_readable(Client &c)
{
    uint8_t buf[READ_CHUNK];
    ssize_t r = recv(c.fd, buf, sizeof(buf), 0);
    if ( r < 0 )
    {
        if ( errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK )
            return true;
        drop(c, verbose ? strerror(errno) : nullptr);
        return false;
    }
    if ( r == 0 )
    {
        // The client went away; mid-frame is worth a line in the log.
        drop(c, c.in.empty() ? nullptr : "client vanished in the middle of a request");
        return false;
    }
    c.in.insert(c.in.end(), buf, buf + r);
    c.last_progress = now_ms();
    process(c);
    return on_writable(c);
}

bool Server::on_writable(Client &c)
{
    while ( c.out_off < c.out.size() )
    {
        ssize_t w = send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if ( w < 0 )
        {
            if ( errno == EINTR )
                continue;
            if ( errno == EAGAIN || errno == EWOULDBLOCK )
                return true;
            drop(c, verbose ? "client went away before reading its reply" : nullptr);
            return false;
        }
        c.out_off += static_cast<size_t>(w);
        c.last_progress = now_ms();
    }
    c.out.clear();
    c.out_off = 0;
    if ( c.closing )
    {
        drop(c, nullptr);
        return false;
    }
    // Input left undecoded at the high-water mark can go now.
    if ( !c.in.empty() )
    {
        size_t before = c.out.size();
        process(c);
        if ( c.out.size() != before || c.closing )
            return on_writable(c);
    }
    return true;
}

// --- Socket -----------------------------------------------------------------------------
// Bind under a temporary name and rename into place once listening, so a client never
// finds a socket that refuses connections; refuse to replace a live daemon's socket or
// anything that is not a socket.
int make_listener(const std::string &path)
{
    sockaddr_un sa{};
    std::string tmp = path + ".new." + std::to_string(getpid());
    if ( tmp.size() >= sizeof(sa.sun_path) )
    {
        logmsg("--socket %s: path too long (max %zu bytes)", path.c_str(),
               sizeof(sa.sun_path) - 1 - (tmp.size() - path.size()));
        return -ENAMETOOLONG;
    }
    struct stat st;
    if ( lstat(path.c_str(), &st) == 0 )
    {
        if ( !S_ISSOCK(st.st_mode) )
        {
            logmsg("--socket %s: exists and is not a socket", path.c_str());
            return -EEXIST;
        }
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sa.sun_family = AF_UNIX;
        memcpy(sa.sun_path, path.c_str(), path.size() + 1);
        if ( probe >= 0 && connect(probe, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) == 0 )
        {
            close(probe);
            logmsg("--socket %s: another cpupolicyd is serving it", path.c_str());
            return -EADDRINUSE;
        }
        if ( probe >= 0 )
            close(probe);
        unlink(path.c_str());  // stale, from a daemon that did not exit cleanly
    }

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if ( fd < 0 )
        return -errno;
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, tmp.c_str(), tmp.size() + 1);
    unlink(tmp.c_str());
    mode_t old = umask(0177);  // created 0600: no window with wider permissions
    int rc = bind(fd, reinterpret_cast<sockaddr *>(&sa), sizeof(sa));
    umask(old);
    if ( rc == 0 )
        rc = chmod(tmp.c_str(), 0600);
    if ( rc == 0 )
        rc = listen(fd, SOMAXCONN);
    if ( rc == 0 )
        rc = rename(tmp.c_str(), path.c_str());
    if ( rc != 0 )
    {
        int e = errno;
        logmsg("--socket %s: %s", path.c_str(), strerror(e));
        unlink(tmp.c_str());
        close(fd);
        return -e;
    }
    return fd;
}

void usage(FILE *f)
{
    fprintf(f,
            "usage: cpupolicyd --socket PATH [options]\n"
            "Serve one simulated host's CPU policy hypercalls over a UNIX socket.\n"
            "\n"
            "  -s, --socket PATH      socket to create (mode 0600); required\n"
            "  -d, --dump PATH        boot the simulated host on this CPUID dump\n"
            "                         (default: this machine's CPU)\n"
            "  -b, --boot OPTS        Xen command-line options (e.g. cpuid=no-avx512f)\n"
            "  -c, --cpus N           simulated physical CPUs (default 1)\n"
            "  -S, --state-dir DIR    save domains there after each change, restore at start\n"
            "  -l, --log FILE         log to FILE (appended) instead of stderr\n"
            "  -m, --max-clients N    concurrent connections (default 1000)\n"
            "  -t, --io-timeout MS    close a client stalled mid-frame or not reading its\n"
            "                         reply for MS milliseconds (default 10000)\n"
            "  -v, --verbose          log every connection and failing call\n"
            "  -h, --help             this text\n");
}

volatile sig_atomic_t stop_signal = 0;
void on_signal(int sig) { stop_signal = sig; }

} // namespace

int main(int argc, char **argv)
{
    static const option opts[] = {
        {"socket", required_argument, nullptr, 's'},
        {"dump", required_argument, nullptr, 'd'},
        {"boot", required_argument, nullptr, 'b'},
        {"cpus", required_argument, nullptr, 'c'},
        {"state-dir", required_argument, nullptr, 'S'},
        {"log", required_argument, nullptr, 'l'},
        {"max-clients", required_argument, nullptr, 'm'},
        {"io-timeout", required_argument, nullptr, 't'},
        {"verbose", no_argument, nullptr, 'v'},
        {"help", no_argument, nullptr, 'h'},
        {nullptr, 0, nullptr, 0},
    };
    std::string socket_path, log_path;
    sim::SimConfig cfg;
    Daemon d;
    unsigned long max_clients = 1000;
    int o;
    while ( (o = getopt_long(argc, argv, "s:d:b:c:S:l:m:t:vh", opts, nullptr)) != -1 )
    {
        char *end;
        switch ( o )
        {
        case 's': socket_path = optarg; break;
        case 'd': cfg.dump_path = optarg; break;
        case 'b': cfg.boot_options = optarg; break;
        case 'c':
            cfg.nr_cpus = static_cast<unsigned>(strtoul(optarg, &end, 10));
            if ( *end || cfg.nr_cpus == 0 || cfg.nr_cpus > MAX_PCPUS )
            {
                fprintf(stderr, "cpupolicyd: --cpus %s: expected 1..%u\n", optarg, MAX_PCPUS);
                return 2;
            }
            break;
        case 'S': d.state_dir = optarg; break;
        case 'l': log_path = optarg; break;
        case 'm':
            max_clients = strtoul(optarg, &end, 10);
            if ( *end || max_clients == 0 )
            {
                fprintf(stderr, "cpupolicyd: --max-clients %s: expected a positive number\n",
                        optarg);
                return 2;
            }
            break;
        case 't':
        {
            unsigned long ms = strtoul(optarg, &end, 10);
            if ( *end || ms == 0 || ms > 3600000 )
            {
                fprintf(stderr, "cpupolicyd: --io-timeout %s: expected 1..3600000 ms\n", optarg);
                return 2;
            }
            io_timeout_ms = static_cast<int>(ms);
            break;
        }
        case 'v': verbose = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if ( optind != argc || socket_path.empty() )
    {
        usage(stderr);
        return 2;
    }
    if ( !log_path.empty() )
    {
        logf = fopen(log_path.c_str(), "ae");
        if ( !logf )
        {
            fprintf(stderr, "cpupolicyd: --log %s: %s\n", log_path.c_str(), strerror(errno));
            return 1;
        }
    }

    // Each client costs a descriptor: raise the soft limit as far as allowed and keep
    // --max-clients below it.
    rlimit rl;
    if ( getrlimit(RLIMIT_NOFILE, &rl) == 0 )
    {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
        if ( rl.rlim_cur != RLIM_INFINITY && max_clients + 32 > rl.rlim_cur )
            max_clients = rl.rlim_cur > 64 ? rl.rlim_cur - 32 : 32;
    }

    std::unique_ptr<sim::SimMachine> m;
    std::string why;
    if ( int rc = sim::SimMachine::create(cfg, m, &why) )
    {
        logmsg("cannot boot the simulated host: %s (%s)", why.c_str(), strerror(-rc));
        return 1;
    }
    d.backend = std::make_unique<EmbeddedBackend>(std::move(m));
    d.my_uid = geteuid();
    d.host_id = "dump=" + (cfg.dump_path.empty() ? std::string("native") : cfg.dump_path) +
                ",boot=" + cfg.boot_options + ",cpus=" + std::to_string(cfg.nr_cpus);

    if ( !d.state_dir.empty() )
    {
        if ( mkdir(d.state_dir.c_str(), 0700) != 0 && errno != EEXIST )
        {
            logmsg("--state-dir %s: %s", d.state_dir.c_str(), strerror(errno));
            return 1;
        }
        // A state that cannot be restored is not silently dropped: the operator decides.
        if ( d.restore_state() != 0 )
            return 1;
    }

    // SIGTERM/SIGINT are blocked except inside ppoll(), so a signal can only land there
    // and is never lost between the flag check and the wait.
    sigset_t block, waitmask;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &waitmask);
    sigdelset(&waitmask, SIGTERM);
    sigdelset(&waitmask, SIGINT);
    struct sigaction sa{};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);

    int lfd = make_listener(socket_path);
    if ( lfd < 0 )
        return 1;
    Server srv{d, lfd, {}, max_clients};
    logmsg("serving %s on %s (protocol %u, %s%s)", d.host_id.c_str(), socket_path.c_str(),
           unsigned(proto::VERSION), d.state_dir.empty() ? "no state dir" : "state dir ",
           d.state_dir.c_str());

    std::vector<pollfd> pfd;
    std::vector<Client *> who;
    while ( !stop_signal )
    {
        pfd.clear();
        who.clear();
        pfd.push_back({lfd, POLLIN, 0});
        who.push_back(nullptr);
        int64_t now = now_ms(), next_deadline = -1;
        for ( Client &c : srv.clients )
        {
            bool pending_out = c.out_off < c.out.size();
            // Stalled half-frames and unread replies time out; an idle connection between
            // requests does not.
            if ( pending_out || !c.in.empty() )
            {
                int64_t dl = c.last_progress + io_timeout_ms;
                if ( dl <= now )
                {
                    srv.drop(c, pending_out ? "timed out: reply not read"
                                            : "timed out in the middle of a request");
                    continue;
                }
                if ( next_deadline < 0 || dl < next_deadline )
                    next_deadline = dl;
            }
            short ev = pending_out ? POLLOUT : POLLIN;
            pfd.push_back({c.fd, ev, 0});
            who.push_back(&c);
        }
        srv.clients.remove_if([](const Client &c) { return c.fd < 0; });
        // who[] may point at removed clients only if they were dropped above, and those
        // were never added to pfd.
        timespec ts, *tsp = nullptr;
        if ( next_deadline >= 0 )
        {
            int64_t wait = next_deadline - now;
            ts.tv_sec = wait / 1000;
            ts.tv_nsec = (wait % 1000) * 1000000;
            tsp = &ts;
        }
        int n = ppoll(pfd.data(), pfd.size(), tsp, &waitmask);
        if ( n < 0 )
        {
            if ( errno == EINTR )
                continue;
            logmsg("poll: %s", strerror(errno));
            break;
        }
        for ( size_t i = 1; i < pfd.size(); ++i )
        {
            Client &c = *who[i];
            if ( !pfd[i].revents || c.fd < 0 )
                continue;
            if ( pfd[i].revents & POLLOUT )
                srv.on_writable(c);
            else if ( pfd[i].revents & (POLLIN | POLLHUP | POLLERR) )
                srv.on_readable(c);
        }
        if ( pfd[0].revents & POLLIN )
            srv.accept_all();
        srv.clients.remove_if([](const Client &c) { return c.fd < 0; });
    }

    for ( Client &c : srv.clients )
        if ( c.fd >= 0 )
            close(c.fd);
    close(lfd);
    unlink(socket_path.c_str());
    logmsg("%s, exiting: %llu requests served, %llu refused",
           stop_signal ? strsignal(stop_signal) : "error",
           static_cast<unsigned long long>(srv.nr_requests),
           static_cast<unsigned long long>(srv.nr_refused));
    return stop_signal ? 0 : 1;
}
