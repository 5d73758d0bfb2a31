// SPDX-License-Identifier: MIT
// The connection loop: one thread, one ppoll().  The SimMachine is single-threaded and
// every request is a few microseconds of work, so serving requests one after another
// costs nothing and needs no locks.  Each connection keeps its own input and output
// buffer; a client that stops mid-frame or stops reading is closed after io_timeout_ms
// without affecting the others.
#include "cpupolicyd.hpp"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace cpupolicy::daemon {

namespace {
constexpr size_t OUT_HIGH_WATER = 256 * 1024;  // stop decoding while this much is unsent
constexpr size_t READ_CHUNK = 64 * 1024;
} // namespace

void Server::drop(Client &c, const char *why)
{
    if ( why )
        logmsg("closed connection from pid %d uid %u: %s", int(c.pid), unsigned(c.uid), why);
    close(c.fd);
    c.fd = -1;
}

void Server::close_all()
{
    for ( Client &c : clients_ )
        if ( c.fd >= 0 )
            close(c.fd);
    clients_.clear();
}

size_t Server::nr_privileged() const
{
    size_t n = 0;
    for ( const Client &c : clients_ )
        n += c.may_write;
    return n;
}

void Server::accept_all()
{
    for ( ;; )
    {
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
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
        // Xen lets only the control domain change domains; here the daemon's owner (and
        // root) stands in for it.  Everyone who could connect (the socket is 0600, so by
        // default the same set of users; 0660 with --socket-mode adds the daemon's group,
        // as the Debian package's cpupolicy group) may read.
        bool may_write = cred.uid == 0 || cred.uid == cfg_.my_uid;
        // The last reserved_clients slots are for privileged clients only: on a socket
        // opened to others, they cannot hold every slot and lock out root.
        size_t others = clients_.size() - nr_privileged();
        size_t limit_others = cfg_.max_clients - cfg_.reserved_clients;
        if ( clients_.size() >= cfg_.max_clients || (!may_write && others >= limit_others) )
        {
            logmsg("refused a connection from pid %d uid %u: %zu clients already (--max-clients "
                   "%zu, of which %zu reserved for root and uid %u)",
                   int(cred.pid), unsigned(cred.uid), clients_.size(), cfg_.max_clients,
                   cfg_.reserved_clients, unsigned(cfg_.my_uid));
            ++nr_refused_;
            close(fd);
            continue;
        }
        Client c;
        c.fd = fd;
        c.pid = cred.pid;
        c.uid = cred.uid;
        c.gid = cred.gid;
        c.may_write = may_write;
        c.last_progress = now_ms();
        clients_.push_back(std::move(c));
        if ( verbose )
            logmsg("connection from pid %d uid %u (%s)", int(cred.pid), unsigned(cred.uid),
                   may_write ? "read-write" : "read-only");
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

// One whole frame whose header decoded.
void Server::handle(Client &c, const proto::Header &h, const uint8_t *payload)
{
    ++nr_requests_;
    proto::Request q;
    proto::Reply r;
    int rc = proto::decode_request(h, payload, h.len, q);
    if ( rc )
    {
        // The frame boundary is sound, so answer and keep the connection.
        ++nr_refused_;
        logmsg("refused %s from pid %d uid %u: malformed payload (%u bytes): %s",
               proto::op_name(h.op), int(c.pid), unsigned(c.uid), h.len, strerror(-rc));
        r.op = static_cast<proto::Op>(h.op);
        r.id = h.id;
        r.rc = rc;
        reply(c, r);
        return;
    }
    if ( proto::op_mutates(q.op) && !c.may_write )
    {
        ++nr_refused_;
        logmsg("refused %s (arg %u) from pid %d uid %u: permission denied: only root or "
               "uid %u may change domains",
               proto::op_name(h.op), q.arg, int(c.pid), unsigned(c.uid), unsigned(cfg_.my_uid));
        r.op = q.op;
        r.id = q.id;
        r.rc = -EPERM;
        reply(c, r);
        return;
    }
    proto::serve(b_, q, r);
    if ( q.op == proto::Op::hello )
        r.hello.access = c.may_write ? proto::ACCESS_WRITE : 0;
    if ( proto::op_mutates(q.op) && r.rc == 0 )
    {
        // Acknowledged only once durable: a change the state dir did not take is rolled
        // back and the call fails with the file error.
        DomId d = q.op == proto::Op::domain_create ? r.value : q.arg;
        if ( int src = state_.commit(d) )
        {
            proto::Reply e;
            e.op = r.op;
            e.id = r.id;
            e.rc = src;
            r = std::move(e);
        }
    }
    if ( verbose && r.rc )
        logmsg("%s (arg %u) from pid %d: %s", proto::op_name(h.op), q.arg, int(c.pid),
               strerror(-r.rc));
    reply(c, r);
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
            ++nr_refused_;
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
            ++nr_refused_;
            logmsg("refused %s from pid %d uid %u: %s (version %u, payload %u bytes, max %u)",
                   proto::op_name(h.op), int(c.pid), unsigned(c.uid), strerror(-rc), h.version,
                   h.len, proto::MAX_PAYLOAD);
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
        handle(c, h, payload);
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

void Server::run(volatile sig_atomic_t *stop, const sigset_t *waitmask)
{
    std::vector<pollfd> pfd;
    std::vector<Client *> who;
    while ( !*stop )
    {
        pfd.clear();
        who.clear();
        pfd.push_back({listen_fd_, POLLIN, 0});
        who.push_back(nullptr);
        int64_t now = now_ms(), next_deadline = -1;
        for ( Client &c : clients_ )
        {
            bool pending_out = c.out_off < c.out.size();
            // Stalled half-frames and unread replies time out; an idle connection between
            // requests does not.
            if ( pending_out || !c.in.empty() )
            {
                int64_t dl = c.last_progress + cfg_.io_timeout_ms;
                if ( dl <= now )
                {
                    drop(c, pending_out ? "timed out: reply not read"
                                        : "timed out in the middle of a request");
                    continue;
                }
                if ( next_deadline < 0 || dl < next_deadline )
                    next_deadline = dl;
            }
            pfd.push_back({c.fd, static_cast<short>(pending_out ? POLLOUT : POLLIN), 0});
            who.push_back(&c);
        }
        // Clients dropped above were never added to pfd, so who[] points at live ones only.
        clients_.remove_if([](const Client &c) { return c.fd < 0; });
        timespec ts, *tsp = nullptr;
        if ( next_deadline >= 0 )
        {
            int64_t wait = next_deadline - now;
            ts.tv_sec = wait / 1000;
            ts.tv_nsec = (wait % 1000) * 1000000;
            tsp = &ts;
        }
        int n = ppoll(pfd.data(), pfd.size(), tsp, waitmask);
        if ( n < 0 )
        {
            if ( errno == EINTR )
                continue;
            logmsg("poll: %s", strerror(errno));
            return;
        }
        for ( size_t i = 1; i < pfd.size(); ++i )
        {
            Client &c = *who[i];
            if ( !pfd[i].revents || c.fd < 0 )
                continue;
            if ( pfd[i].revents & POLLOUT )
                on_writable(c);
            else if ( pfd[i].revents & (POLLIN | POLLHUP | POLLERR) )
                on_readable(c);
        }
        if ( pfd[0].revents & POLLIN )
            accept_all();
        clients_.remove_if([](const Client &c) { return c.fd < 0; });
    }
}

// --- The listening socket -----------------------------------------------------------------
// Bind under a temporary name and rename into place once listening, so a client never finds
// a socket that refuses connections; refuse to replace a live daemon's socket or anything
// that is not a socket.  PATH.lock, held for the daemon's life, makes the check and the
// replacement one step: without it two daemons started at once could both find the path
// free and both serve (one of them unreachable).
int make_listener(const std::string &path, unsigned mode)
{
    sockaddr_un sa{};
    std::string tmp = path + ".new." + std::to_string(getpid());
    if ( tmp.size() >= sizeof(sa.sun_path) )
    {
        logmsg("--socket %s: path too long (max %zu bytes)", path.c_str(),
               sizeof(sa.sun_path) - 1 - (tmp.size() - path.size()));
        return -ENAMETOOLONG;
    }
    std::string lock_path = path + ".lock";
    int lfd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if ( lfd < 0 )
    {
        int e = errno;
        logmsg("--socket %s: cannot open the lock file %s: %s", path.c_str(), lock_path.c_str(),
               strerror(e));
        return -e;
    }
    if ( flock(lfd, LOCK_EX | LOCK_NB) != 0 )
    {
        int e = errno;
        logmsg("--socket %s: another cpupolicyd is serving it (it holds %s)", path.c_str(),
               lock_path.c_str());
        close(lfd);
        return e == EWOULDBLOCK ? -EADDRINUSE : -e;
    }
    // lfd stays open (and locked) until the process exits: deliberately never closed.

    struct stat st;
    if ( lstat(path.c_str(), &st) == 0 )
    {
        if ( !S_ISSOCK(st.st_mode) )
        {
            logmsg("--socket %s: exists and is not a socket", path.c_str());
            close(lfd);
            return -EEXIST;
        }
        // A daemon of an older version (no lock file) may still serve it.
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sa.sun_family = AF_UNIX;
        memcpy(sa.sun_path, path.c_str(), path.size() + 1);
        if ( probe >= 0 && connect(probe, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) == 0 )
        {
            close(probe);
            close(lfd);
            logmsg("--socket %s: another cpupolicyd is serving it", path.c_str());
            return -EADDRINUSE;
        }
        if ( probe >= 0 )
            close(probe);
        unlink(path.c_str());  // stale, from a daemon that did not exit cleanly
    }

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if ( fd < 0 )
    {
        int e = errno;
        close(lfd);
        return -e;
    }
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, tmp.c_str(), tmp.size() + 1);
    unlink(tmp.c_str());
    mode_t old = umask(0177);  // created 0600: no window with wider permissions
    int rc = bind(fd, reinterpret_cast<sockaddr *>(&sa), sizeof(sa));
    umask(old);
    if ( rc == 0 )
        rc = chmod(tmp.c_str(), mode == 0660 ? 0660 : 0600);  // --socket-mode, after bind
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
        close(lfd);
        return -e;
    }
    return fd;
}

} // namespace cpupolicy::daemon
