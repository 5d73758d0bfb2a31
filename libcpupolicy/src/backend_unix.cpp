// SPDX-License-Identifier: MIT
#include "backend_unix.hpp"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <sys/un.h>
#include <unistd.h>

namespace cpupolicy {

namespace {

int64_t mono_ms()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// Wait until `fd` is ready for `events` or the call's deadline passes (-ETIMEDOUT).
int wait_ready(int fd, short events, int64_t deadline)
{
    for ( ;; )
    {
        int64_t left = deadline - mono_ms();
        if ( left <= 0 )
            return -ETIMEDOUT;
        pollfd p{fd, events, 0};
        int n = poll(&p, 1, left > INT_MAX ? INT_MAX : static_cast<int>(left));
        if ( n < 0 && errno == EINTR )
            continue;
        if ( n < 0 )
            return -errno;
        if ( n == 0 )
            return -ETIMEDOUT;
        return 0;
    }
}

// Non-blocking sends and receives, waiting in between against one deadline for the
// whole call: a daemon that trickles a byte at a time cannot hold a call past it.
int send_all(int fd, const uint8_t *p, size_t n, int64_t deadline)
{
    while ( n )
    {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if ( w < 0 )
        {
            if ( errno == EINTR )
                continue;
            if ( errno == EAGAIN || errno == EWOULDBLOCK )
            {
                if ( int rc = wait_ready(fd, POLLOUT, deadline) )
                    return rc;
                continue;
            }
            return -errno;
        }
        p += w;
        n -= static_cast<size_t>(w);
    }
    return 0;
}

int recv_all(int fd, uint8_t *p, size_t n, int64_t deadline)
{
    while ( n )
    {
        ssize_t r = recv(fd, p, n, MSG_DONTWAIT);
        if ( r < 0 )
        {
            if ( errno == EINTR )
                continue;
            if ( errno == EAGAIN || errno == EWOULDBLOCK )
            {
                if ( int rc = wait_ready(fd, POLLIN, deadline) )
                    return rc;
                continue;
            }
            return -errno;
        }
        if ( r == 0 )
            return -ECONNRESET;  // the daemon closed the connection mid-reply
        p += r;
        n -= static_cast<size_t>(r);
    }
    return 0;
}

// connect() on a blocking socket honours SO_SNDTIMEO; its timeout shows as EAGAIN.
int io_errno(int e) { return e == EAGAIN || e == EWOULDBLOCK ? -ETIMEDOUT : -e; }

} // namespace

std::vector<uint32_t> fold_featureset(const uint32_t *fs, uint32_t nr)
{
    std::vector<uint32_t> w;
    if ( !fs )
        return w;
    if ( nr <= proto::MAX_FS_WORDS )
        return std::vector<uint32_t>(fs, fs + nr);
    w.assign(fs, fs + proto::MAX_FS_WORDS);
    for ( uint32_t i = proto::MAX_FS_WORDS; i < nr; ++i )
        w.back() |= fs[i];
    return w;
}

namespace {

// "unix:PATH": connect(2) to the daemon's socket.
class PathTransport final : public Transport {
public:
    PathTransport(std::string path, int timeout_ms) : path_(std::move(path)), timeout_ms_(timeout_ms) {}
    std::string name() const override { return "unix:" + path_; }
    const char *kind() const override { return "unix"; }
    int connect(int *out, std::string *why) override
    {
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        if ( path_.empty() || path_.size() >= sizeof(sa.sun_path) )
        {
            if ( why )
                *why = "unix:" + path_ + ": socket path empty or longer than " +
                       std::to_string(sizeof(sa.sun_path) - 1) + " bytes";
            return path_.empty() ? -EINVAL : -ENAMETOOLONG;
        }
        memcpy(sa.sun_path, path_.c_str(), path_.size() + 1);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if ( fd < 0 )
        {
            int rc = -errno;
            if ( why )
                *why = std::string("socket: ") + strerror(-rc);
            return rc;
        }
        timeval tv{timeout_ms_ / 1000, (timeout_ms_ % 1000) * 1000};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));  // bounds connect() only
        if ( ::connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) != 0 )
        {
            int rc = io_errno(errno);
            close(fd);
            if ( why )
                *why = "unix:" + path_ + ": cannot reach cpupolicyd: " + strerror(-rc) +
                       (rc == -ENOENT || rc == -ECONNREFUSED ? " (is the daemon running?)" : "");
            return rc;
        }
        *out = fd;
        return 0;
    }

private:
    std::string path_;
    int timeout_ms_;
};

} // namespace

int UnixBackend::open(const std::string &path, std::unique_ptr<Backend> &out, std::string &why,
                      int timeout_ms)
{
    return open(std::make_unique<PathTransport>(path, timeout_ms), out, why, timeout_ms);
}

int UnixBackend::open(std::unique_ptr<Transport> t, std::unique_ptr<Backend> &out,
                      std::string &why, int timeout_ms)
{
    std::unique_ptr<UnixBackend> b(new UnixBackend(std::move(t), timeout_ms));
    std::lock_guard<std::mutex> g(b->lock_);
    if ( int rc = b->connect_locked(&why) )
        return rc;
    out = std::move(b);
    return 0;
}

UnixBackend::~UnixBackend()
{
    drop_locked();
}

void UnixBackend::drop_locked()
{
    if ( fd_ >= 0 )
    {
        close(fd_);
        fd_ = -1;
        transport_->disconnected();
    }
}

int UnixBackend::connect_locked(std::string *why)
{
    int fd = -1;
    if ( int rc = transport_->connect(&fd, why) )
        return rc;
    fd_ = fd;

    proto::Request req;
    req.op = proto::Op::hello;
    req.arg = proto::VERSION;
    proto::Reply rep;
    int rc = roundtrip_locked(req, rep);
    if ( rc == 0 && rep.rc )
        rc = rep.rc;
    if ( rc == 0 && (!rep.has_body || rep.hello.version != proto::VERSION) )
        rc = -EPROTONOSUPPORT;
    if ( rc )
    {
        drop_locked();
        if ( why )
        {
            std::string extra = transport_->detail();
            if ( !extra.empty() )
                extra = " (" + extra + ")";
            *why = transport_->name() + ": handshake with cpupolicyd failed: " + strerror(-rc) + extra;
        }
        return rc;
    }
    hello_ = rep.hello;
    return 0;
}

int UnixBackend::roundtrip_locked(proto::Request &req, proto::Reply &rep)
{
    if ( fd_ < 0 )
        if ( int rc = connect_locked(nullptr) )
            return rc;
    req.id = next_id_++;
    std::vector<uint8_t> frame;
    if ( int rc = proto::encode_request(req, frame) )
        return rc;  // a count beyond the protocol's bounds: nothing was sent
    // One deadline for the whole call (send, header, payload), not one per read.
    const int64_t deadline = mono_ms() + timeout_ms_;
    int rc = send_all(fd_, frame.data(), frame.size(), deadline);
    uint8_t hb[proto::HEADER_SIZE];
    if ( rc == 0 )
        rc = recv_all(fd_, hb, sizeof(hb), deadline);
    if ( rc )
    {
        drop_locked();
        return rc;
    }
    proto::Header h;
    std::vector<uint8_t> payload;
    rc = proto::decode_header(hb, sizeof(hb), h) ? -EPROTO : 0;
    if ( rc == 0 )
    {
        payload.resize(h.len);
        rc = recv_all(fd_, payload.data(), h.len, deadline);
    }
    if ( rc == 0 && (proto::decode_reply(h, payload.data(), payload.size(), rep) != 0 ||
                     rep.op != req.op || rep.id != req.id) )
        rc = -EPROTO;
    if ( rc )
        drop_locked();  // the stream can no longer be trusted to be in step
    return rc;
}

int UnixBackend::roundtrip(proto::Request &req, proto::Reply &rep)
{
    std::lock_guard<std::mutex> g(lock_);
    return roundtrip_locked(req, rep);
}

int UnixBackend::call(proto::Op op, uint32_t arg, proto::Reply &rep, const uint32_t *fs,
                      uint32_t nr)
{
    proto::Request req;
    req.op = op;
    req.arg = arg;
    if ( fs )
        req.words = fold_featureset(fs, nr);
    return roundtrip(req, rep);
}

int UnixBackend::get_featureset(unsigned idx, uint32_t *nr, uint32_t *fs)
{
    if ( !nr )
        return -EINVAL;
    proto::Request req;
    req.op = proto::Op::get_featureset;
    req.arg = idx;
    req.nr = fs ? (*nr < proto::MAX_FS_WORDS ? *nr : proto::MAX_FS_WORDS) : proto::NR_QUERY;
    proto::Reply rep;
    if ( int rc = roundtrip(req, rep) )
        return rc;
    if ( rep.rc != 0 && rep.rc != -ENOBUFS )
        return rep.rc;
    if ( !rep.has_body || rep.count_only != !fs )
        return -EPROTO;
    if ( !fs )
    {
        *nr = rep.nr;
        return rep.rc;
    }
    if ( rep.words.size() > req.nr )
        return -EPROTO;  // more than the buffer we described
    std::copy(rep.words.begin(), rep.words.end(), fs);
    *nr = static_cast<uint32_t>(rep.words.size());
    return rep.rc;
}

namespace {
int policy_reply(const proto::Reply &rep, Policy &out)
{
    if ( rep.rc )
        return rep.rc;
    if ( !rep.has_body )
        return -EPROTO;
    Policy p{};
    if ( proto::wire_to_policy(rep.policy, p, nullptr) )
        return -EPROTO;
    out = p;
    return 0;
}
} // namespace

int UnixBackend::get_system_policy(unsigned idx, Policy &out)
{
    proto::Reply rep;
    if ( int rc = call(proto::Op::get_system_policy, idx, rep) )
        return rc;
    return policy_reply(rep, out);
}

int UnixBackend::get_domain_policy(uint32_t domid, Policy &out)
{
    proto::Reply rep;
    if ( int rc = call(proto::Op::get_domain_policy, domid, rep) )
        return rc;
    return policy_reply(rep, out);
}

int UnixBackend::get_levelling_caps(uint32_t *caps)
{
    proto::Reply rep;
    if ( int rc = call(proto::Op::get_levelling_caps, 0, rep) )
        return rc;
    if ( rep.rc )
        return rep.rc;
    if ( !rep.has_body )
        return -EPROTO;
    if ( !caps )
        return -EINVAL;
    *caps = rep.value;
    return 0;
}

int UnixBackend::featureset_fits_max(unsigned idx, const uint32_t *fs, uint32_t nr,
                                   uint32_t *bad_feature)
{
    if ( !fs && nr )
        return -EINVAL;
    proto::Reply rep;
    if ( int rc = call(proto::Op::featureset_fits_max, idx, rep, fs, nr) )
        return rc;
    if ( !rep.has_body )
        return -EPROTO;
    if ( bad_feature && rep.value != ~0u )
        *bad_feature = rep.value;
    return rep.rc;
}

int UnixBackend::domain_create(unsigned type, uint32_t *domid)
{
    proto::Reply rep;
    if ( int rc = call(proto::Op::domain_create, type, rep) )
        return rc;
    if ( rep.rc )
        return rep.rc;
    if ( !rep.has_body )
        return -EPROTO;
    if ( domid )
        *domid = rep.value;
    return 0;
}

int UnixBackend::domain_start(uint32_t domid)
{
    proto::Reply rep;
    if ( int rc = call(proto::Op::domain_start, domid, rep) )
        return rc;
    return rep.rc;
}

int UnixBackend::domain_destroy(uint32_t domid)
{
    proto::Reply rep;
    if ( int rc = call(proto::Op::domain_destroy, domid, rep) )
        return rc;
    return rep.rc;
}

int UnixBackend::set_domain_policy(uint32_t domid, const Policy &p, ErrRecord *err)
{
    if ( err )
        *err = ErrRecord{};
    proto::Request req;
    req.op = proto::Op::set_domain_policy;
    req.arg = domid;
    if ( int rc = proto::policy_to_wire(p, req.policy) )
        return rc;
    proto::Reply rep;
    if ( int rc = roundtrip(req, rep) )
        return rc;
    if ( err )
        *err = rep.err;
    return rep.rc;
}

int UnixBackend::set_featureset(uint32_t domid, const uint32_t *fs, uint32_t nr, ErrRecord *err)
{
    if ( err )
        *err = ErrRecord{};
    if ( !fs && nr )
        return -EINVAL;
    proto::Reply rep;
    if ( int rc = call(proto::Op::set_featureset, domid, rep, fs, nr) )
        return rc;
    if ( err )
        *err = rep.err;
    return rep.rc;
}

} // namespace cpupolicy
