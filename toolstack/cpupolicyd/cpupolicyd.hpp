// SPDX-License-Identifier: MIT
// cpupolicyd's parts: the log (main.cpp), the durable state directory (state.cpp), the
// connection loop (server.cpp).  Protocol, permissions and state directory:
// docs/cpupolicyd.md; usage: cpupolicyd.8.
#pragma once

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backend_embedded.hpp"
#include "serve.hpp"
#include "state_file.hpp"

namespace cpupolicy::daemon {

// --- main.cpp -----------------------------------------------------------------------------
extern FILE *log_file;   // stderr unless --log
extern bool verbose;
__attribute__((format(printf, 1, 2))) void logmsg(const char *fmt, ...);
int64_t now_ms();

// Exit statuses (cpupolicyd.8).
inline constexpr int EXIT_USAGE = 2;
inline constexpr int EXIT_STATE_REFUSED = 3;  // state file damaged (moved aside) or unreadable

// --- state.cpp ----------------------------------------------------------------------------
// The state directory: one lock, one file, and the rule that a change is acknowledged only
// once it is on disk.  `durable_` mirrors what the file holds.
class StateDir {
public:
    // Take the directory (creating it 0700), lock it against a second daemon, restore the
    // saved domains into `b`'s hypervisor, and prove the directory writable by rewriting
    // the file.  0, or a negative errno after a log line; EXIT_STATE_REFUSED is the exit
    // status the caller should use when *refused is set (damaged or unreadable file).
    [[nodiscard]] int open(const std::string &dir, EmbeddedBackend &b, const std::string &host_id,
                           bool *refused);
    bool enabled() const { return !dir_.empty(); }
    // After a successful change to domain `d`: write the new state durably.  On failure
    // the domain is brought back to what the file holds and the error (a negative errno
    // of the file operation) is returned for the call to fail with.
    [[nodiscard]] int commit(DomId d);
    ~StateDir();

private:
    [[nodiscard]] int lock();
    [[nodiscard]] int read_file(StateFile &out, bool *found, bool *refused);
    [[nodiscard]] int write_file(const StateFile &s);
    [[nodiscard]] int record_of(DomId d, DomainRecord &out, bool *exists);
    [[nodiscard]] int recreate(const DomainRecord &r);
    [[nodiscard]] int roll_back(DomId d);
    void move_aside(const std::string &why);

    std::string dir_, path_;
    int lock_fd_ = -1;
    EmbeddedBackend *b_ = nullptr;
    StateFile durable_;
    std::map<DomId, size_t> index_;  // domid -> position in durable_.domains
    void reindex();
};

// --- server.cpp ---------------------------------------------------------------------------
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

struct ServerConfig {
    size_t max_clients = 1000;
    // Slots only privileged clients (root, the daemon's uid) may take, so that others on a
    // widened socket cannot lock them out.
    size_t reserved_clients = 0;
    int io_timeout_ms = 10000;
    uid_t my_uid = 0;
};

class Server {
public:
    Server(EmbeddedBackend &b, StateDir &state, const ServerConfig &cfg, int listen_fd)
        : b_(b), state_(state), cfg_(cfg), listen_fd_(listen_fd) {}
    // Serve until *stop becomes non-zero (set by a signal caught inside ppoll) or poll
    // fails.  `waitmask` is the signal mask ppoll() runs with.
    void run(volatile sig_atomic_t *stop, const sigset_t *waitmask);
    void close_all();
    uint64_t nr_requests() const { return nr_requests_; }
    uint64_t nr_refused() const { return nr_refused_; }

private:
    void accept_all();
    bool on_readable(Client &c);   // false: the connection was closed
    bool on_writable(Client &c);
    void process(Client &c);
    void handle(Client &c, const proto::Header &h, const uint8_t *payload);
    void reply(Client &c, const proto::Reply &r);
    void drop(Client &c, const char *why);
    size_t nr_privileged() const;

    EmbeddedBackend &b_;
    StateDir &state_;
    ServerConfig cfg_;
    int listen_fd_;
    std::list<Client> clients_;
    uint64_t nr_requests_ = 0, nr_refused_ = 0;
};

// A listening socket at `path`, created 0600 under a temporary name and renamed into place;
// `path`.lock is held (flock) for the daemon's life, so of two daemons started at once on
// one path exactly one serves it.  The descriptor, or a negative errno after a log line.
[[nodiscard]] int make_listener(const std::string &path, unsigned mode = 0600);

} // namespace cpupolicy::daemon
