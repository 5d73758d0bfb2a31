// SPDX-License-Identifier: MIT
// cpupolicyd: one simulated host (the simulated hypervisor of hypervisor/sim, booted on a
// dump or on this machine's CPU) serving its hypercalls over a UNIX socket, so that
// libcpupolicy's "unix:PATH" backend reaches it like a remote host.  Protocol, permissions
// and state directory: docs/cpupolicyd.md; usage: cpupolicyd.8.
//
// main.cpp: options, the log, boot, signals; state.cpp: the state directory; server.cpp:
// the connection loop and the listening socket.
#include "cpupolicyd.hpp"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <string_view>

#include "printable.hpp"
#include "stdio_bridge.hpp"

namespace cpupolicy::daemon {

FILE *log_file = stderr;
bool verbose = false;

// One line per call, flushed; a log that cannot be written is not a reason to stop
// serving, but the first failure is reported on stderr.  The line quotes what others
// gave (paths, boot options, a dump's lines, a client's socket peer): escaped here, where
// it leaves, so that no control character or newline forges or rewrites a log line.
void logmsg(const char *fmt, ...)
{
    char ts[32];
    time_t now = time(nullptr);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : std::min(static_cast<size_t>(n), sizeof(line) - 1);
    fprintf(log_file, "%s cpupolicyd[%d]: %s\n", ts, static_cast<int>(getpid()),
            printable(std::string_view(line, len)).c_str());
    static bool reported = false;
    if ( (fflush(log_file) != 0 || ferror(log_file)) && !reported && log_file != stderr )
    {
        reported = true;
        fprintf(stderr, "cpupolicyd: cannot write the log: %s\n", strerror(errno));
    }
}

int64_t now_ms()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

} // namespace cpupolicy::daemon

using namespace cpupolicy;
using namespace cpupolicy::daemon;

namespace {

struct Options {
    std::string socket_path, log_path, state_dir;
    unsigned socket_mode = 0600;
    sim::SimConfig sim;
    ServerConfig server;
    bool reserved_given = false;
};

void usage(FILE *f)
{
    fprintf(f,
            "usage: cpupolicyd --socket PATH [options]\n"
            "Serve one simulated host's CPU policy hypercalls over a UNIX socket.\n"
            "\n"
            "  -s, --socket PATH      socket to create (mode 0600); required\n"
            "  -M, --socket-mode MODE 0600 (default: the daemon's user only) or 0660 (also\n"
            "                         its group, e.g. cpupolicy: read-only clients)\n"
            "  -d, --dump PATH        boot the simulated host on this CPUID dump\n"
            "                         (default: this machine's CPU)\n"
            "  -b, --boot OPTS        Xen command-line options (e.g. cpuid=no-avx512f)\n"
            "  -c, --cpus N           simulated physical CPUs (default 1)\n"
            "  -S, --state-dir DIR    save domains there after each change, restore at start\n"
            "  -l, --log FILE         log to FILE (appended) instead of stderr\n"
            "  -m, --max-clients N    concurrent connections (default 1000)\n"
            "  -r, --reserved-clients N  of those, kept for root and the daemon's user\n"
            "                         (default max-clients / 10)\n"
            "  -t, --io-timeout MS    close a client stalled mid-frame or not reading its\n"
            "                         reply for MS milliseconds (default 10000)\n"
            "  -v, --verbose          log every connection and failing call\n"
            "  -h, --help             this text\n"
            "or:    cpupolicyd --stdio-bridge SOCKET\n"
            "Copy stdin/stdout to a running daemon's SOCKET (what ssh: handles run remotely).\n");
}

// A decimal number in [lo, hi], digits only.
bool parse_number(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
    if ( !*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 9 )
        return false;
    unsigned long v = strtoul(s, nullptr, 10);
    if ( v < lo || v > hi )
        return false;
    *out = v;
    return true;
}

// 0 to go on, or the exit status (usage errors: 2; --help: 0 with *done).
int parse_options(int argc, char **argv, Options &o, bool *done)
{
    static const option opts[] = {
        {"socket", required_argument, nullptr, 's'},
        {"socket-mode", required_argument, nullptr, 'M'},
        {"dump", required_argument, nullptr, 'd'},
        {"boot", required_argument, nullptr, 'b'},
        {"cpus", required_argument, nullptr, 'c'},
        {"state-dir", required_argument, nullptr, 'S'},
        {"log", required_argument, nullptr, 'l'},
        {"max-clients", required_argument, nullptr, 'm'},
        {"reserved-clients", required_argument, nullptr, 'r'},
        {"io-timeout", required_argument, nullptr, 't'},
        {"verbose", no_argument, nullptr, 'v'},
        {"help", no_argument, nullptr, 'h'},
        {nullptr, 0, nullptr, 0},
    };
    *done = false;
    int c;
    unsigned long n;
    auto bad = [](const char *opt, const char *arg, const char *expected) {
        fprintf(stderr, "cpupolicyd: %s %s: expected %s\n", opt, printable(arg).c_str(), expected);
        return EXIT_USAGE;
    };
    while ( (c = getopt_long(argc, argv, "s:M:d:b:c:S:l:m:r:t:vh", opts, nullptr)) != -1 )
    {
        switch ( c )
        {
        case 's': o.socket_path = optarg; break;
        case 'M':
            // Only these two: the socket never opens to every local user.
            if ( strcmp(optarg, "0600") && strcmp(optarg, "600") && strcmp(optarg, "0660") &&
                 strcmp(optarg, "660") )
                return bad("--socket-mode", optarg, "0600 or 0660");
            o.socket_mode = optarg[strlen(optarg) - 2] == '6' ? 0660 : 0600;
            break;
        case 'd': o.sim.dump_path = optarg; break;
        case 'b': o.sim.boot_options = optarg; break;
        case 'c':
            if ( !parse_number(optarg, 1, MAX_PCPUS, &n) )
                return bad("--cpus", optarg, ("1.." + std::to_string(MAX_PCPUS)).c_str());
            o.sim.nr_cpus = static_cast<unsigned>(n);
            break;
        case 'S': o.state_dir = optarg; break;
        case 'l': o.log_path = optarg; break;
        case 'm':
            if ( !parse_number(optarg, 1, 1000000, &n) )
                return bad("--max-clients", optarg, "1..1000000");
            o.server.max_clients = n;
            break;
        case 'r':
            if ( !parse_number(optarg, 0, 1000000, &n) )
                return bad("--reserved-clients", optarg, "0..1000000");
            o.server.reserved_clients = n;
            o.reserved_given = true;
            break;
        case 't':
            if ( !parse_number(optarg, 1, 3600000, &n) )
                return bad("--io-timeout", optarg, "1..3600000 ms");
            o.server.io_timeout_ms = static_cast<int>(n);
            break;
        case 'v': verbose = true; break;
        case 'h':
            usage(stdout);
            *done = true;
            return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if ( optind != argc || o.socket_path.empty() )
    {
        usage(stderr);
        return EXIT_USAGE;
    }
    if ( o.reserved_given && o.server.reserved_clients >= o.server.max_clients )
        return bad("--reserved-clients", std::to_string(o.server.reserved_clients).c_str(),
                   "fewer than --max-clients");
    return 0;
}

// Each client costs a descriptor: raise the soft limit as far as allowed and keep
// --max-clients (and the reserve within it) below it.
void fit_client_limits(Options &o)
{
    ServerConfig &s = o.server;
    rlimit rl;
    if ( getrlimit(RLIMIT_NOFILE, &rl) == 0 )
    {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
        if ( rl.rlim_cur != RLIM_INFINITY && s.max_clients + 32 > rl.rlim_cur )
            s.max_clients = rl.rlim_cur > 64 ? rl.rlim_cur - 32 : 32;
    }
    if ( !o.reserved_given )
        s.reserved_clients = s.max_clients / 10;
    if ( s.reserved_clients >= s.max_clients )
        s.reserved_clients = s.max_clients - 1;
}

// Boot the simulated host; its description goes into the state file.
int boot_host(const Options &o, std::unique_ptr<EmbeddedBackend> &out, std::string &host_id)
{
    std::unique_ptr<sim::SimMachine> m;
    std::string why;
    if ( int rc = sim::SimMachine::create(o.sim, m, &why) )
    {
        // `why` names the dump file and line, or the boot option and its offset; errno
        // text would only add noise ("No such file or directory" for an unknown feature).
        logmsg("cannot boot the simulated host: %s", why.empty() ? strerror(-rc) : why.c_str());
        return rc;
    }
    out = std::make_unique<EmbeddedBackend>(std::move(m));
    host_id = "dump=" + (o.sim.dump_path.empty() ? std::string("native") : o.sim.dump_path) +
              ",boot=" + o.sim.boot_options + ",cpus=" + std::to_string(o.sim.nr_cpus);
    return 0;
}

volatile sig_atomic_t stop_signal = 0;
void on_signal(int sig) { stop_signal = sig; }

// SIGTERM/SIGINT are blocked except inside ppoll(), so a signal can only land there and is
// never lost between the flag check and the wait.  *waitmask: the mask for ppoll().
void install_signals(sigset_t *waitmask)
{
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, waitmask);
    sigdelset(waitmask, SIGTERM);
    sigdelset(waitmask, SIGINT);
    struct sigaction sa{};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);
}

} // namespace

int main(int argc, char **argv)
{
    // The remote end of an ssh: handle (stdio_bridge.cpp), not a daemon.
    if ( argc == 3 && !strcmp(argv[1], "--stdio-bridge") )
        return stdio_bridge(argv[2]);
    Options o;
    bool done;
    if ( int st = parse_options(argc, argv, o, &done); st || done )
        return st;
    if ( !o.log_path.empty() && !(log_file = fopen(o.log_path.c_str(), "ae")) )
    {
        fprintf(stderr, "cpupolicyd: --log %s: %s\n", printable(o.log_path).c_str(),
                strerror(errno));
        return 1;
    }
    fit_client_limits(o);
    o.server.my_uid = geteuid();

    std::unique_ptr<EmbeddedBackend> backend;
    std::string host_id;
    if ( boot_host(o, backend, host_id) )
        return 1;
    StateDir state;
    if ( !o.state_dir.empty() )
    {
        bool refused = false;
        if ( state.open(o.state_dir, *backend, host_id, &refused) )
            return refused ? EXIT_STATE_REFUSED : 1;
    }
    sigset_t waitmask;
    install_signals(&waitmask);
    int lfd = make_listener(o.socket_path, o.socket_mode);
    if ( lfd < 0 )
        return 1;

    Server srv(*backend, state, o.server, lfd);
    logmsg("serving %s on %s (protocol %u, %s%s)", host_id.c_str(), o.socket_path.c_str(),
           unsigned(proto::VERSION), o.state_dir.empty() ? "no state dir" : "state dir ",
           o.state_dir.c_str());
    srv.run(&stop_signal, &waitmask);
    srv.close_all();
    close(lfd);
    unlink(o.socket_path.c_str());
    logmsg("%s, exiting: %llu requests served, %llu refused",
           stop_signal ? strsignal(stop_signal) : "error",
           static_cast<unsigned long long>(srv.nr_requests()),
           static_cast<unsigned long long>(srv.nr_refused()));
    return stop_signal ? 0 : 1;
}
