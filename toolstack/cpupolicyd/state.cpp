// SPDX-License-Identifier: MIT
// The state directory (docs/cpupolicyd.md "State directory"): DIR/lock held with flock()
// for the daemon's life, DIR/domains.state written as a temporary, fsync'd, renamed over
// the old one and the directory fsync'd.  A change is acknowledged only once that
// succeeded; otherwise the domain goes back to what the file says and the call fails.
#include "cpupolicyd.hpp"
#include "import.hpp"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

namespace cpupolicy::daemon {

namespace {

const char STATE_FILE[] = "domains.state";
const char LOCK_FILE[] = "lock";

// The errno a failed save reports to the client.  File errors pass through (-ENOSPC,
// -EDQUOT, -EIO, -EROFS, -EACCES, -EISDIR, ...), except those that already mean something
// for a domain call (-EEXIST "started", -ESRCH "no such domain", -EINVAL, -EPERM,
// -ENOENT), which would mislead: those become -EIO.
int save_errno(int e)
{
    switch ( e )
    {
    case EEXIST:
    case ESRCH:
    case EINVAL:
    case EPERM:
    case ENOENT:
    case 0:
        return -EIO;
    default:
        return -e;
    }
}

int write_all(int fd, const uint8_t *p, size_t n)
{
    while ( n )
    {
        ssize_t w = write(fd, p, n);
        if ( w < 0 && errno == EINTR )
            continue;
        if ( w < 0 )
            return errno;
        if ( w == 0 )
            return EIO;
        p += w;
        n -= static_cast<size_t>(w);
    }
    return 0;
}

bool same_policy(const proto::PolicyWire &a, const proto::PolicyWire &b)
{
    if ( a.leaves.size() != b.leaves.size() || a.msrs.size() != b.msrs.size() )
        return false;
    for ( size_t i = 0; i < a.leaves.size(); ++i )
        if ( memcmp(&a.leaves[i], &b.leaves[i], sizeof(WireLeaf)) )
            return false;
    for ( size_t i = 0; i < a.msrs.size(); ++i )
        if ( a.msrs[i].idx != b.msrs[i].idx || a.msrs[i].flags != b.msrs[i].flags ||
             a.msrs[i].val != b.msrs[i].val )
            return false;
    return true;
}

} // namespace

StateDir::~StateDir()
{
    if ( lock_fd_ >= 0 )
        close(lock_fd_);  // releases the flock; the lock file stays (unlinking it would race)
}

void StateDir::reindex()
{
    index_.clear();
    for ( size_t i = 0; i < durable_.domains.size(); ++i )
        index_[durable_.domains[i].domid] = i;
}

// One daemon per state directory: two would overwrite each other's files.
int StateDir::lock()
{
    std::string lp = dir_ + "/" + LOCK_FILE;
    int fd = ::open(lp.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if ( fd < 0 )
    {
        int e = errno;
        logmsg("--state-dir %s: cannot open the lock file %s: %s", dir_.c_str(), lp.c_str(),
               strerror(e));
        return -e;
    }
    if ( flock(fd, LOCK_EX | LOCK_NB) != 0 )
    {
        int e = errno;
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? n : 0] = 0;
        pid[strcspn(pid, "\n")] = 0;
        if ( e == EWOULDBLOCK )
            logmsg("--state-dir %s: in use by another cpupolicyd (pid %s, holding %s); "
                   "one daemon per state directory",
                   dir_.c_str(), *pid ? pid : "unknown", lp.c_str());
        else
            logmsg("--state-dir %s: flock %s: %s", dir_.c_str(), lp.c_str(), strerror(e));
        close(fd);
        return e == EWOULDBLOCK ? -EBUSY : -e;
    }
    // Our pid, for the message a second daemon prints (advisory only: the lock is the flock).
    std::string pid = std::to_string(getpid()) + "\n";
    if ( ftruncate(fd, 0) != 0 ||
         write_all(fd, reinterpret_cast<const uint8_t *>(pid.data()), pid.size()) != 0 )
        logmsg("--state-dir %s: cannot record the pid in %s (the lock holds anyway)",
               dir_.c_str(), lp.c_str());
    lock_fd_ = fd;
    return 0;
}

// A damaged file is kept for inspection under a new name; it is never overwritten.
void StateDir::move_aside(const std::string &why)
{
    char ts[32];
    time_t now = time(nullptr);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
    std::string aside = path_ + ".damaged-" + ts + "-" + std::to_string(getpid());
    if ( rename(path_.c_str(), aside.c_str()) == 0 )
        logmsg("state: %s: %s; moved to %s.  Not starting: start again to begin with no "
               "domains, or put a good copy back as %s",
               path_.c_str(), why.c_str(), aside.c_str(), path_.c_str());
    else
        logmsg("state: %s: %s (and cannot move it aside: %s).  Not starting", path_.c_str(),
               why.c_str(), strerror(errno));
}

int StateDir::read_file(StateFile &out, bool *found, bool *refused)
{
    *found = false;
    // The one bounded reader of the userspace code (import.hpp): a symlink is refused
    // (READ_NOFOLLOW), a FIFO, device or directory is refused without blocking or
    // reading, a file larger than any state this build writes is refused before
    // anything is allocated.
    std::string text, err;
    int rc = import::read_bounded_file(path_, STATE_MAX_BYTES, text, err, import::READ_NOFOLLOW);
    if ( rc == -ENOENT )
        return 0;  // first start
    if ( rc == -EFBIG )
    {
        *refused = true;
        move_aside(err + " (more than any state this build writes)");
        return rc;
    }
    if ( rc )
    {
        *refused = true;
        if ( rc == -ELOOP )
            logmsg("state: %s is a symbolic link; refusing it (the state file must be a "
                   "regular file of the state directory). Not starting", path_.c_str());
        else if ( rc == -EINVAL )
            logmsg("state: %s is %s; refusing it. Not starting", path_.c_str(), err.c_str());
        else
            logmsg("state: reading %s: %s. Not starting", path_.c_str(), err.c_str());
        return rc;
    }
    std::string why;
    rc = state_decode(reinterpret_cast<const uint8_t *>(text.data()), text.size(), out, why);
    if ( rc == -EPROTONOSUPPORT )
    {
        // Not damaged, only newer: left where it is for the daemon that wrote it.
        *refused = true;
        logmsg("state: %s: %s. Not starting", path_.c_str(), why.c_str());
        return rc;
    }
    if ( rc )
    {
        *refused = true;
        move_aside(why);
        return rc;
    }
    *found = true;
    return 0;
}

int StateDir::write_file(const StateFile &s)
{
    std::vector<uint8_t> b;
    if ( int rc = state_encode(s, b) )
    {
        logmsg("state: cannot encode the state: %s", strerror(-rc));
        return rc;
    }
    // A temporary, fsync'd, renamed over the old file, then the directory fsync'd for the
    // rename: after a crash the file is the old state or the new one, whole.  Whatever
    // sits at the temporary name (a leftover, or something blocking it) is removed first,
    // and the new one is created exclusively without following links.
    std::string tmp = path_ + ".tmp";
    const char *step = "unlink";
    int e = 0, fd = -1;
    if ( unlink(tmp.c_str()) != 0 && errno != ENOENT )
        e = errno;
    if ( !e )
    {
        step = "create";
        fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if ( fd < 0 )
            e = errno;
    }
    if ( !e )
    {
        step = "write";
        e = write_all(fd, b.data(), b.size());
    }
    if ( !e && fsync(fd) != 0 )
    {
        step = "fsync";
        e = errno;
    }
    if ( fd >= 0 && close(fd) != 0 && !e )
    {
        step = "close";
        e = errno;
    }
    if ( !e && rename(tmp.c_str(), path_.c_str()) != 0 )
    {
        step = "rename";
        e = errno;
    }
    if ( e )
    {
        if ( fd >= 0 )
            unlink(tmp.c_str());
        logmsg("state: %s of %s failed: %s", step, tmp.c_str(), strerror(e));
        return save_errno(e);
    }
    int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if ( dfd < 0 || fsync(dfd) != 0 )
    {
        // The new file is in place but its name may not survive a crash: not durable.
        e = errno;
        if ( dfd >= 0 )
            close(dfd);
        logmsg("state: fsync of the directory %s failed: %s", dir_.c_str(), strerror(e));
        return save_errno(e);
    }
    close(dfd);
    return 0;
}

// What the hypervisor holds for domain `d` now, as a record (or *exists = false).
int StateDir::record_of(DomId d, DomainRecord &out, bool *exists)
{
    DomainInfo info;
    int rc = b_->machine().on_cpu(0, [&](Hypervisor &hv) { return hv.get_domain_info(CONTROL_DOMID, d, info); });
    if ( rc == -ESRCH )
    {
        *exists = false;
        return 0;
    }
    Policy p{};
    if ( rc == 0 )
        rc = b_->get_domain_policy(d, p);
    if ( rc == 0 )
        rc = proto::policy_to_wire(p, out.policy);
    if ( rc )
        return rc;
    *exists = true;
    out.domid = d;
    out.type = info.type;
    out.started = info.started;
    out.nr_vcpus = info.nr_vcpus;
    return 0;
}

int StateDir::recreate(const DomainRecord &r)
{
    Policy p{};
    ErrRecord err;
    int rc = proto::wire_to_policy(r.policy, p, &err);
    if ( rc == 0 )
        rc = b_->machine().on_cpu(0, [&](Hypervisor &hv) {
            return hv.domain_create_with_id(CONTROL_DOMID, r.type, r.domid, r.nr_vcpus);
        });
    if ( rc == 0 )
        rc = b_->set_domain_policy(r.domid, p, &err);
    if ( rc == 0 && r.started )
        rc = b_->domain_start(r.domid);
    if ( rc )
        logmsg("state: cannot recreate domain %u: %s (leaf %#x subleaf %#x msr %#x)", r.domid,
               strerror(-rc), raw(err.leaf), raw(err.subleaf), raw(err.msr));
    return rc;
}

// Bring domain `d` in memory back to its record in the file (or to not existing).  A
// domain that must become un-started is rebuilt, since starting cannot be undone.
int StateDir::roll_back(DomId d)
{
    DomainRecord now;
    bool exists = false;
    if ( int rc = record_of(d, now, &exists) )
        return rc;
    auto it = index_.find(d);
    const DomainRecord *want = it == index_.end() ? nullptr : &durable_.domains[it->second];
    if ( exists && (!want || (now.started && !want->started) || now.type != want->type) )
    {
        if ( int rc = b_->domain_destroy(d) )
            return rc;
        exists = false;
    }
    if ( !want )
        return 0;
    if ( !exists )
        return recreate(*want);
    if ( !same_policy(now.policy, want->policy) )
    {
        Policy p{};
        ErrRecord err;
        int rc = proto::wire_to_policy(want->policy, p, &err);
        if ( rc == 0 )
            rc = b_->set_domain_policy(d, p, &err);
        return rc;
    }
    return 0;
}

int StateDir::commit(DomId d)
{
    if ( !enabled() )
        return 0;
    DomainRecord r;
    bool exists = false;
    int rc = record_of(d, r, &exists);
    if ( rc )
    {
        logmsg("state: cannot read domain %u back: %s", d, strerror(-rc));
        return rc;
    }
    StateFile next = durable_;
    next.next_domid = b_->machine().hv().next_domid();
    auto it = index_.find(d);
    if ( it != index_.end() && exists )
        next.domains[it->second] = std::move(r);
    else if ( it != index_.end() )
        next.domains.erase(next.domains.begin() + static_cast<std::ptrdiff_t>(it->second));
    else if ( exists )
    {
        auto pos = index_.upper_bound(d);
        size_t at = pos == index_.end() ? next.domains.size() : pos->second;
        next.domains.insert(next.domains.begin() + static_cast<std::ptrdiff_t>(at), std::move(r));
    }
    rc = write_file(next);
    if ( rc == 0 )
    {
        durable_ = std::move(next);
        reindex();
        return 0;
    }
    // Not durable: not acknowledged either.  Memory goes back to the file's view.
    if ( int rb = roll_back(d) )
    {
        // Memory and disk now disagree and cannot be reconciled here; the file is the
        // truth, so stop and let a restart load it.
        logmsg("state: cannot roll domain %u back after a failed save (%s); exiting so that "
               "a restart loads the saved state",
               d, strerror(-rb));
        exit(1);
    }
    logmsg("state: change to domain %u not saved, rolled back, the call fails with %s", d,
           strerror(-rc));
    return rc;
}

int StateDir::open(const std::string &dir, EmbeddedBackend &b, const std::string &host_id,
                   bool *refused)
{
    *refused = false;
    dir_ = dir;
    path_ = dir + "/" + STATE_FILE;
    b_ = &b;
    if ( mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST )
    {
        int e = errno;
        logmsg("--state-dir %s: %s", dir.c_str(), strerror(e));
        return -e;
    }
    if ( int rc = lock() )
        return rc;

    StateFile saved;
    bool found = false;
    if ( int rc = read_file(saved, &found, refused) )
        return rc;
    durable_.host_id = host_id;
    durable_.next_domid = 1;
    if ( found )
    {
        if ( saved.host_id != host_id )
            logmsg("state: saved by a daemon on host '%s', restoring on '%s'",
                   saved.host_id.c_str(), host_id.c_str());
        if ( saved.version < STATE_VERSION )
            logmsg("state: %s is version %u (no checksum); rewriting it as version %u",
                   path_.c_str(), saved.version, STATE_VERSION);
        for ( const DomainRecord &r : saved.domains )
        {
            if ( int rc = recreate(r) )
            {
                *refused = true;
                logmsg("state: %s: domain %u cannot be restored on this host. Not starting",
                       path_.c_str(), r.domid);
                return rc;
            }
            logmsg("state: restored domain %u (%s%s)", r.domid,
                   r.type == DomainType::hvm ? "hvm" : "pv", r.started ? ", started" : "");
        }
        if ( int rc = b.machine().on_cpu(0, [&](Hypervisor &hv) {
                 return hv.set_next_domid(CONTROL_DOMID, saved.next_domid);
             }) )
            return rc;
        durable_.domains = std::move(saved.domains);
    }
    durable_.next_domid = b.machine().hv().next_domid();
    reindex();
    // Prove now that changes can be saved (and upgrade an old file): a daemon that could
    // not save would otherwise fail every change.
    if ( int rc = write_file(durable_) )
    {
        logmsg("--state-dir %s: cannot write the state there (%s). Not starting", dir.c_str(),
               strerror(-rc));
        return rc;
    }
    return 0;
}

} // namespace cpupolicy::daemon
