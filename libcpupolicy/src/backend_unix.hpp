// SPDX-License-Identifier: MIT
// The unix backend ("unix:PATH"): a cpupolicyd serving one simulated host over a UNIX
// stream socket (protocol.hpp, docs/cpupolicyd.md).
//
// One request at a time per handle (a mutex serialises callers), each with one deadline
// for the whole call (send, then the reply's header and payload): a daemon that answers a
// byte at a time cannot hold a call longer than the timeout.  Errors besides the hypercall's own:
//   open:   -ENOENT (no socket at PATH), -ECONNREFUSED (a socket nobody listens on),
//           -EACCES (not allowed to connect), -EPROTONOSUPPORT (another protocol version)
//   a call: -EPROTO for a reply that does not decode or does not answer the request,
//           -ETIMEDOUT, -ECONNRESET / -EPIPE when the daemon went away.
// After a transport error the connection is dropped and the next call reconnects, so a
// restarted daemon is picked up; a call is never retried (domain_create is not
// idempotent).
#pragma once

#include <mutex>

#include "backend.hpp"
#include "protocol.hpp"

namespace cpupolicy {

// How a UnixBackend reaches its daemon: a connected byte stream (a UNIX socket, or the
// pipe of an ssh client running a bridge on the remote host: backend_ssh.hpp).
class Transport {
public:
    virtual ~Transport() = default;
    // A connected stream socket in *fd (the caller owns and closes it), or -errno with
    // `why` saying what failed.
    [[nodiscard]] virtual int connect(int *fd, std::string *why) = 0;
    // Called after the fd from connect() was closed (reap helpers).
    virtual void disconnected() {}
    // For messages: "unix:PATH", "ssh:HOST/PATH".
    virtual std::string name() const = 0;
    virtual const char *kind() const = 0;
    // More words on why the last connection failed (e.g. the ssh client's stderr), or "".
    virtual std::string detail() const { return ""; }
};

class UnixBackend final : public Backend {
public:
    // Connect and say hello.  `timeout_ms` bounds connect() and each call as a whole.
    [[nodiscard]] static int open(const std::string &path, std::unique_ptr<Backend> &out,
                                  std::string &why, int timeout_ms = 10000);
    // The same protocol over another transport.
    [[nodiscard]] static int open(std::unique_ptr<Transport> t, std::unique_ptr<Backend> &out,
                                  std::string &why, int timeout_ms = 10000);
    ~UnixBackend() override;
    const char *kind() const override { return transport_->kind(); }

    [[nodiscard]] int get_featureset(unsigned idx, uint32_t *nr, uint32_t *fs) override;
    [[nodiscard]] int get_system_policy(unsigned idx, Policy &out) override;
    [[nodiscard]] int get_levelling_caps(uint32_t *caps) override;
    [[nodiscard]] int featureset_fits_max(unsigned idx, const uint32_t *fs, uint32_t nr,
                                        uint32_t *bad_feature) override;
    [[nodiscard]] int domain_create(unsigned type, uint32_t *domid) override;
    [[nodiscard]] int domain_start(uint32_t domid) override;
    [[nodiscard]] int domain_destroy(uint32_t domid) override;
    [[nodiscard]] int get_domain_policy(uint32_t domid, Policy &out) override;
    [[nodiscard]] int set_domain_policy(uint32_t domid, const Policy &p, ErrRecord *err) override;
    [[nodiscard]] int set_featureset(uint32_t domid, const uint32_t *fs, uint32_t nr, ErrRecord *err) override;

    // What the daemon said in hello (access: may this connection change the host?).
    const proto::HelloInfo &hello() const { return hello_; }

private:
    UnixBackend(std::unique_ptr<Transport> t, int timeout_ms)
        : transport_(std::move(t)), timeout_ms_(timeout_ms) {}
    [[nodiscard]] int connect_locked(std::string *why);
    void drop_locked();
    // Send `req` (id assigned here), receive and check its reply.  0 when a reply came
    // (its rc is the call's), or the transport/protocol error.
    [[nodiscard]] int roundtrip(proto::Request &req, proto::Reply &rep);
    [[nodiscard]] int roundtrip_locked(proto::Request &req, proto::Reply &rep);
    // roundtrip() of a request that carries an argument (a domid or an index) and, for
    // the featureset calls, the words fs[0..nr) (fold_featureset).
    [[nodiscard]] int call(proto::Op op, uint32_t arg, proto::Reply &rep,
                           const uint32_t *fs = nullptr, uint32_t nr = 0);

    std::mutex lock_;
    std::unique_ptr<Transport> transport_;
    int timeout_ms_;
    int fd_ = -1;
    uint64_t next_id_ = 1;
    proto::HelloInfo hello_;
};

// Words for a featureset request: fs[0..nr) with the words from MAX_FS_WORDS - 1 on
// folded (OR) into the last one, so the hypervisor's rule for words beyond its
// featureset (-EOPNOTSUPP if any is non-zero) applies unchanged.
std::vector<uint32_t> fold_featureset(const uint32_t *fs, uint32_t nr);

} // namespace cpupolicy
