// SPDX-License-Identifier: MIT
// The ssh backend ("ssh:[USER@]HOST[:PORT]/SOCKET"): a cpupolicyd on another machine,
// reached the way libvirt reaches a remote libvirtd for qemu+ssh:// URIs (libvirt
// docs/uri.rst, "Remote URIs", and src/rpc/virnetsocket.c virNetSocketNewConnectSSH): the
// system's ssh client runs a small proxy on the remote host - libvirt's virt-ssh-helper,
// or `nc -U SOCKET` before it - and the client speaks its ordinary protocol over ssh's
// stdin/stdout.  Here the proxy is `cpupolicyd --stdio-bridge SOCKET` and the protocol is
// cpupolicyd's (protocol.hpp), unchanged: no network protocol or authentication of our
// own; ssh authenticates, the daemon checks the login user as for any local client.
//
// ssh's stdin and stdout are one end of a socketpair, so the unix backend's framing,
// timeouts and reconnect-after-error logic apply as they are.  ssh runs with -T (no
// tty), -e none (no escape character: the stream is binary) and BatchMode=yes (never
// prompt: a handle must not hang on a password question).
//
// Environment (the command has no other way to pass them through a URI):
//   CPUPOLICY_SSH          the ssh program (default "ssh")
//   CPUPOLICY_SSH_CONFIG   an ssh_config(5) file, passed as -F (keys, known hosts, ...)
//   CPUPOLICY_SSH_BRIDGE   the remote command before SOCKET (default
//                          "cpupolicyd --stdio-bridge")
#include "backend_ssh.hpp"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vector>

extern char **environ;

namespace cpupolicy {

namespace {

// One shell word for the remote command line (ssh hands it to the remote user's shell).
std::string shell_quote(const std::string &s)
{
    std::string q = "'";
    for ( char c : s )
        q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

class SshTransport final : public Transport {
public:
    explicit SshTransport(SshTarget t) : t_(std::move(t)) {}
    ~SshTransport() override { reap(); }

    std::string name() const override { return t_.uri; }
    const char *kind() const override { return "ssh"; }

    int connect(int *out, std::string *why) override
    {
        reap();
        stderr_text_.clear();
        int sv[2], ep[2];
        if ( socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 )
            return -errno;
        if ( pipe2(ep, O_CLOEXEC) != 0 )
        {
            int e = -errno;
            close(sv[0]);
            close(sv[1]);
            return e;
        }
        const char *prog = getenv("CPUPOLICY_SSH");
        const char *cfg = getenv("CPUPOLICY_SSH_CONFIG");
        const char *bridge = getenv("CPUPOLICY_SSH_BRIDGE");
        std::vector<std::string> args{prog && *prog ? prog : "ssh"};
        if ( cfg && *cfg )
            args.insert(args.end(), {"-F", cfg});
        if ( !t_.port.empty() )
            args.insert(args.end(), {"-p", t_.port});
        if ( !t_.user.empty() )
            args.insert(args.end(), {"-l", t_.user});
        args.insert(args.end(), {"-T", "-e", "none", "-o", "BatchMode=yes", "--", t_.host,
                                 std::string(bridge && *bridge ? bridge : "cpupolicyd --stdio-bridge") +
                                     " " + shell_quote(t_.socket)});
        std::vector<char *> argv;
        for ( auto &a : args )
            argv.push_back(a.data());
        argv.push_back(nullptr);

        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, sv[1], STDIN_FILENO);
        posix_spawn_file_actions_adddup2(&fa, sv[1], STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&fa, ep[1], STDERR_FILENO);
        pid_t pid;
        int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        close(sv[1]);
        close(ep[1]);
        if ( rc != 0 )
        {
            close(sv[0]);
            close(ep[0]);
            if ( why )
                *why = t_.uri + ": cannot run " + args[0] + ": " + strerror(rc);
            return -rc;
        }
        fcntl(ep[0], F_SETFL, O_NONBLOCK);
        pid_ = pid;
        err_fd_ = ep[0];
        *out = sv[0];
        return 0;
    }

    void disconnected() override { reap(); }

    // What ssh (or the remote bridge) said on stderr, once it has exited.
    std::string detail() const override { return stderr_text_; }

private:
    void drain_stderr()
    {
        if ( err_fd_ < 0 )
            return;
        char buf[1024];
        ssize_t r;
        while ( (r = read(err_fd_, buf, sizeof(buf))) > 0 )
            if ( stderr_text_.size() < 4096 )
                stderr_text_.append(buf, static_cast<size_t>(r));
    }

    // Wait for ssh to go (it does once its stdin closes), up to 2 s; then TERM, KILL.
    void reap()
    {
        if ( pid_ > 0 )
        {
            int st;
            bool gone = false;
            for ( int i = 0; i < 200 && !gone; ++i )
            {
                drain_stderr();
                pid_t r = waitpid(pid_, &st, WNOHANG);
                gone = r == pid_ || (r < 0 && errno != EINTR);
                if ( !gone )
                {
                    timespec ts{0, 10 * 1000 * 1000};
                    nanosleep(&ts, nullptr);
                }
            }
            if ( !gone )
            {
                kill(pid_, SIGTERM);
                timespec ts{0, 100 * 1000 * 1000};
                nanosleep(&ts, nullptr);
                if ( waitpid(pid_, &st, WNOHANG) != pid_ )
                {
                    kill(pid_, SIGKILL);
                    waitpid(pid_, &st, 0);
                }
            }
            pid_ = -1;
        }
        drain_stderr();
        if ( err_fd_ >= 0 )
            close(err_fd_);
        err_fd_ = -1;
        while ( !stderr_text_.empty() && (stderr_text_.back() == '\n' || stderr_text_.back() == '\r') )
            stderr_text_.pop_back();
    }

    SshTarget t_;
    pid_t pid_ = -1;
    int err_fd_ = -1;
    std::string stderr_text_;
};

} // namespace

int parse_ssh_uri(const char *rest, SshTarget &t, std::string &why)
{
    std::string s = rest ? rest : "";
    t = SshTarget{};
    t.uri = "ssh:" + s;
    size_t slash = s.find('/');
    if ( slash == std::string::npos || slash + 1 >= s.size() )
    {
        why = t.uri + ": expected ssh:[USER@]HOST[:PORT]/SOCKET (the daemon's socket path on HOST)";
        return -EINVAL;
    }
    std::string hp = s.substr(0, slash);
    t.socket = s.substr(slash);
    size_t at = hp.find('@');
    if ( at != std::string::npos )
    {
        t.user = hp.substr(0, at);
        hp = hp.substr(at + 1);
        if ( t.user.empty() )
        {
            why = t.uri + ": empty user before '@'";
            return -EINVAL;
        }
    }
    if ( !hp.empty() && hp[0] == '[' )
    {
        size_t close = hp.find(']');
        if ( close == std::string::npos )
        {
            why = t.uri + ": unterminated '[' in the host";
            return -EINVAL;
        }
        t.host = hp.substr(1, close - 1);
        hp = hp.substr(close + 1);
        if ( !hp.empty() && hp[0] != ':' )
        {
            why = t.uri + ": expected ':PORT' after ']'";
            return -EINVAL;
        }
        if ( !hp.empty() )
            t.port = hp.substr(1);
    }
    else
    {
        size_t colon = hp.find(':');
        t.host = hp.substr(0, colon);
        if ( colon != std::string::npos )
            t.port = hp.substr(colon + 1);
    }
    if ( t.host.empty() || t.host[0] == '-' )
    {
        why = t.uri + ": expected a host name";
        return -EINVAL;
    }
    if ( !t.port.empty() || hp.find(':') != std::string::npos )
    {
        char *end;
        unsigned long p = strtoul(t.port.c_str(), &end, 10);
        if ( t.port.empty() || *end || p == 0 || p > 65535 )
        {
            why = t.uri + ": port '" + t.port + "': expected 1..65535";
            return -EINVAL;
        }
    }
    for ( char c : t.user + t.host )
        if ( c <= ' ' || c == '\'' || c == '"' || c == '\\' || c == ';' )
        {
            why = t.uri + ": unexpected character in the user or host";
            return -EINVAL;
        }
    return 0;
}

int ssh_backend_open(std::unique_ptr<Backend> &out, const char *rest, std::string &why)
{
    SshTarget t;
    if ( int rc = parse_ssh_uri(rest, t, why) )
        return rc;
    // A slower first round trip than a local socket: ssh's own handshake is in it.
    return UnixBackend::open(std::make_unique<SshTransport>(std::move(t)), out, why, 20000);
}

} // namespace cpupolicy
