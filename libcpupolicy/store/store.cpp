// SPDX-License-Identifier: MIT
#include "store.hpp"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

namespace cpupolicy::store {

namespace {

// Schema steps: MIGRATIONS[i] takes user_version i to i + 1.  Append only; a published
// step is never edited (an existing database has already run it).
const char *const MIGRATIONS[] = {
    // 0 -> 1: pools, members, VMs.
    "CREATE TABLE pools ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  type TEXT NOT NULL CHECK (type IN ('hvm','pv')),"
    "  level_policy TEXT NOT NULL DEFAULT '',"
    "  level_default TEXT NOT NULL DEFAULT '',"
    "  created INTEGER NOT NULL);"
    "CREATE TABLE hosts ("
    "  id INTEGER PRIMARY KEY,"
    "  pool_id INTEGER NOT NULL REFERENCES pools(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  uri TEXT NOT NULL,"
    "  vendor TEXT NOT NULL,"
    "  family INTEGER NOT NULL, model INTEGER NOT NULL, stepping INTEGER NOT NULL,"
    "  microcode TEXT NOT NULL DEFAULT '',"
    "  boot_options TEXT NOT NULL DEFAULT '',"
    "  max_policy TEXT NOT NULL,"
    "  default_policy TEXT NOT NULL,"
    "  joined INTEGER NOT NULL,"
    "  UNIQUE (pool_id, name));"
    "CREATE TABLE vms ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  pool_id INTEGER REFERENCES pools(id) ON DELETE RESTRICT,"
    "  host TEXT NOT NULL,"
    "  host_uri TEXT NOT NULL,"
    "  domid INTEGER NOT NULL,"
    "  policy TEXT NOT NULL,"
    "  config TEXT NOT NULL DEFAULT '{}',"
    "  created INTEGER NOT NULL);",
    // 1 -> 2: the level's history (pool history), and the generation it is at.
    "ALTER TABLE pools ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE history ("
    "  pool_id INTEGER NOT NULL REFERENCES pools(id) ON DELETE CASCADE,"
    "  seq INTEGER NOT NULL,"
    "  event TEXT NOT NULL,"
    "  host TEXT NOT NULL DEFAULT '',"
    "  level_policy TEXT NOT NULL,"
    "  detail TEXT NOT NULL DEFAULT '{}',"
    "  at INTEGER NOT NULL,"
    "  PRIMARY KEY (pool_id, seq));",
};
static_assert(sizeof(MIGRATIONS) / sizeof(MIGRATIONS[0]) == SCHEMA_VERSION,
              "one migration step per schema version");

// A prepared statement, finalised on scope exit.
class Stmt {
public:
    Stmt(sqlite3 *db, const char *sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
    ~Stmt() { sqlite3_finalize(s_); }
    Stmt(const Stmt &) = delete;
    Stmt &operator=(const Stmt &) = delete;
    int prepared() const { return rc_; }
    sqlite3_stmt *get() { return s_; }
    void bind(int i, const std::string &v)
    {
        sqlite3_bind_text(s_, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    }
    void bind(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
    int step() { return sqlite3_step(s_); }
    std::string text(int i)
    {
        const unsigned char *t = sqlite3_column_text(s_, i);
        return t ? std::string(reinterpret_cast<const char *>(t),
                               static_cast<size_t>(sqlite3_column_bytes(s_, i)))
                 : std::string();
    }
    int64_t i64(int i) { return sqlite3_column_int64(s_, i); }

private:
    sqlite3_stmt *s_ = nullptr;
    int rc_;
};

int mkdir_p(const std::string &dir)
{
    if ( dir.empty() )
        return 0;
    struct stat st;
    if ( stat(dir.c_str(), &st) == 0 )
        return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
    size_t slash = dir.find_last_of('/');
    if ( slash != std::string::npos && slash > 0 )
        if ( int rc = mkdir_p(dir.substr(0, slash)) )
            return rc;
    if ( mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST )
        return -errno;
    return 0;
}

} // namespace

int64_t now()
{
    return static_cast<int64_t>(time(nullptr));
}

std::string default_path()
{
    if ( geteuid() == 0 )
        return "/var/lib/cpupolicy/cpupolicy.db";
    const char *xdg = getenv("XDG_STATE_HOME");
    if ( xdg && xdg[0] == '/' )
        return std::string(xdg) + "/cpupolicy/cpupolicy.db";
    const char *home = getenv("HOME");
    if ( home && home[0] == '/' )
        return std::string(home) + "/.local/state/cpupolicy/cpupolicy.db";
    return "";
}

int Store::fail(int rc_sqlite, const char *what)
{
    const int primary = rc_sqlite & 0xff;
    err_ = path_ + ": " + what + ": ";
    switch ( primary ) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        err_ += "busy: another cpupolicy process is changing this store (waited " +
                std::to_string(busy_ms_) + " ms); try again";
        return -EBUSY;
    case SQLITE_CONSTRAINT:
        err_ += sqlite3_errmsg(db_);
        return -EEXIST;
    case SQLITE_CANTOPEN:
        err_ += sqlite3_errstr(rc_sqlite);
        return -EACCES;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
        err_ += sqlite3_errstr(rc_sqlite);
        return -EACCES;
    case SQLITE_NOMEM:
        err_ += "out of memory";
        return -ENOMEM;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        err_ += std::string("not a cpupolicy store or damaged: ") + sqlite3_errstr(rc_sqlite);
        return -EINVAL;
    default:
        err_ += db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc_sqlite);
        return -EIO;
    }
}

int Store::exec(const char *sql)
{
    char *msg = nullptr;
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &msg);
    sqlite3_free(msg);
    return rc == SQLITE_OK ? 0 : fail(rc, "executing SQL");
}

int Store::open(const std::string &path, std::unique_ptr<Store> &out, std::string &why)
{
    std::unique_ptr<Store> s(new Store);
    s->path_ = path;
    if ( path.empty() )
    {
        why = "no store path: give --store PATH (HOME and XDG_STATE_HOME are unset)";
        return -EINVAL;
    }
    if ( const char *ms = getenv("CPUPOLICY_STORE_BUSY_MS") )
        s->busy_ms_ = atoi(ms) >= 0 ? atoi(ms) : 0;
    size_t slash = path.find_last_of('/');
    if ( slash != std::string::npos && slash > 0 )
        if ( int rc = mkdir_p(path.substr(0, slash)) )
        {
            why = path.substr(0, slash) + ": cannot create the store's directory: " + strerror(-rc);
            return rc;
        }
    int rc = sqlite3_open_v2(path.c_str(), &s->db_,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    if ( rc != SQLITE_OK )
    {
        int e = s->fail(rc, "opening the store");
        why = s->err_;
        return e;
    }
    sqlite3_busy_timeout(s->db_, s->busy_ms_);
    // WAL: readers never block the writer, and a killed writer's half-written
    // transaction is ignored on the next open (https://sqlite.org/wal.html).
    {
        // Scoped: finalised before any transaction (a pending statement blocks COMMIT).
        Stmt wal(s->db_, "PRAGMA journal_mode=WAL");
        rc = wal.prepared();
        if ( rc == SQLITE_OK )
            rc = wal.step();
        if ( rc != SQLITE_ROW || wal.text(0) != "wal" )
        {
            int e = rc == SQLITE_ROW ? (s->err_ = path + ": the store cannot use WAL mode", -EIO)
                                     : s->fail(rc, "switching to WAL mode");
            why = s->err_;
            return e;
        }
    }
    if ( int e = s->exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;") )
    {
        why = s->err_;
        return e;
    }
    if ( int e = s->migrate() )
    {
        why = s->err_;
        return e;
    }
    out = std::move(s);
    return 0;
}

int Store::migrate()
{
    for ( ;; )
    {
        if ( int rc = begin_write() )
            return rc;
        int64_t have;
        {
            // Finalised before the COMMIT below (a pending statement would block it).
            Stmt v(db_, "PRAGMA user_version");
            if ( v.step() != SQLITE_ROW )
            {
                int e = fail(sqlite3_errcode(db_), "reading the schema version");
                rollback();
                return e;
            }
            have = v.i64(0);
        }
        if ( have > SCHEMA_VERSION )
        {
            rollback();
            err_ = path_ + ": store schema version " + std::to_string(have) +
                   " is newer than this build's " + std::to_string(SCHEMA_VERSION) +
                   ": use a newer cpupolicy";
            return -EPROTONOSUPPORT;
        }
        if ( have == SCHEMA_VERSION )
        {
            rollback();
            version_ = static_cast<int>(have);
            return 0;
        }
        // One step per transaction, with its user_version bump inside it.
        if ( int rc = exec(MIGRATIONS[have]) )
        {
            rollback();
            err_ += " (migrating the schema from version " + std::to_string(have) + ")";
            return rc;
        }
        const std::string bump = "PRAGMA user_version=" + std::to_string(have + 1);
        if ( int rc = exec(bump.c_str()) )
        {
            rollback();
            return rc;
        }
        if ( int rc = commit() )
            return rc;
    }
}

Store::~Store()
{
    if ( in_txn_ )
        rollback();
    sqlite3_close(db_);
}

int Store::begin_write()
{
    if ( in_txn_ )
    {
        err_ = path_ + ": a transaction is already open";
        return -EINVAL;
    }
    int rc = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    if ( rc != SQLITE_OK )
        return fail(rc, "starting a transaction");
    in_txn_ = true;
    return 0;
}

int Store::commit()
{
    int rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
    if ( rc != SQLITE_OK )
    {
        int e = fail(rc, "committing");
        rollback();
        return e;
    }
    in_txn_ = false;
    return 0;
}

void Store::rollback()
{
    if ( !sqlite3_get_autocommit(db_) )
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    in_txn_ = false;
}

// --- Pools -------------------------------------------------------------------------------

namespace {
const char POOL_COLS[] = "id, name, type, level_policy, level_default, generation, created";
void read_pool(Stmt &s, PoolRow &r)
{
    r.id = s.i64(0);
    r.name = s.text(1);
    r.type = s.text(2);
    r.level_policy = s.text(3);
    r.level_default = s.text(4);
    r.generation = s.i64(5);
    r.created = s.i64(6);
}
} // namespace

int Store::get_pool(const std::string &name, PoolRow &out)
{
    Stmt s(db_, (std::string("SELECT ") + POOL_COLS + " FROM pools WHERE name = ?1").c_str());
    if ( s.prepared() != SQLITE_OK )
        return fail(s.prepared(), "reading a pool");
    s.bind(1, name);
    int rc = s.step();
    if ( rc == SQLITE_DONE )
    {
        err_ = "no pool named '" + name + "' in " + path_;
        return -ENOENT;
    }
    if ( rc != SQLITE_ROW )
        return fail(rc, "reading a pool");
    read_pool(s, out);
    return 0;
}

int Store::list_pools(std::vector<PoolRow> &out)
{
    Stmt s(db_, (std::string("SELECT ") + POOL_COLS + " FROM pools ORDER BY name").c_str());
    if ( s.prepared() != SQLITE_OK )
        return fail(s.prepared(), "listing pools");
    out.clear();
    int rc;
    while ( (rc = s.step()) == SQLITE_ROW )
    {
        out.emplace_back();
        read_pool(s, out.back());
    }
    return rc == SQLITE_DONE ? 0 : fail(rc, "listing pools");
}

int Store::insert_pool(PoolRow &row)
{
    Stmt s(db_, "INSERT INTO pools (name, type, level_policy, level_default, generation, created)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    if ( s.prepared() != SQLITE_OK )
        return fail(s.prepared(), "creating a pool");
    s.bind(1, row.name);
    s.bind(2, row.type);
    s.bind(3, row.level_policy);
    s.bind(4, row.level_default);
    s.bind(5, row.generation);
    s.bind(6, row.created);
    int rc = s.step();
    if ( rc != SQLITE_DONE )
    {
        int e = fail(rc, "creating a pool");
        if ( e == -EEXIST )
            err_ = "a pool named '" + row.name + "' exists already in " + path_;
        return e;
    }
    row.id = sqlite3_last_insert_rowid(db_);
    return 0;
}

int Store::update_pool_level(int64_t pool_id, const std::string &level_policy,
                             const std::string &level_default, int64_t generation)
{
    Stmt s(db_, "UPDATE pools SET level_policy = ?2, level_default = ?3, generation = ?4"
                " WHERE id = ?1");
    if ( s.prepared() != SQLITE_OK )
        return fail(s.prepared(), "updating a pool level");
    s.bind(1, pool_id);
    s.bind(2, level_policy);
    s.bind(3, level_default);
    s.bind(4, generation);
    int rc = s.step();
    return rc == SQLITE_DONE ? 0 : fail(rc, "updating a pool level");
}

int Store::delete_pool(int64_t pool_id)
{
    Stmt s(db_, "DELETE FROM pools WHERE id = ?1");
    if ( s.prepared() != SQLITE_OK )
        return fail(s.prepared(), "deleting a pool");
    s.bind(1, pool_id);
    int rc = s.step();
    if ( rc != SQLITE_DONE )
    {
        int e = fail(rc, "deleting a pool");
        if ( e == -EEXIST )
        {
            err_ = "the pool still has VMs (vm destroy them first)";
            return -EBUSY;
        }
        return e;
    }
    return 0;
}

// --- Hosts -------------------------------------------------------------------------------

int Store::hosts_of(int64_t pool_id, std::vector<HostRow> &out)
{
    Stmt s(db_, "SELECT id, pool_id, name, uri, vendor, family, model, stepping, microcode,"
                " boot_options, max_policy, default_policy, joined FROM hosts"
                " WHERE pool_id = ?1 ORDER BY id");
    if ( s.prepared() != SQLITE_OK )
        return fail(s.prepared(), "reading the pool's hosts");
    s.bind(1, pool_id);
    out.clear();
    int rc;
    while ( (rc = s.step()) == SQLITE_ROW )
    {
        HostRow r;
        r.id = s.i64(0);
        r.pool_id = s.i64(1);
        r.name = s.text(2);
        r.uri = s.text(3);
        r.vendor = s.text(4);
        r.family = static_cast<uint32_t>(s.i64(5));
        r.model = static_cast<uint32_t>(s.i64(6));
        r.stepping = static_cast<uint32_t>(s.i64(7));
        r.microcode = s.text(8);
        r.boot_options = s.text(9);
        r.max_policy = s.text(10);
        r.default_policy = s.text(11);
        r.joined = s.i64(12);
        out.push_back(std::move(r));
    }
    return rc == SQLITE_DONE ? 0 : fail(rc, "reading the pool's hosts");
}

int Store::insert_host(HostRow &row)
{
    Stmt s(db_, "INSERT INTO hosts (pool_id, name, uri, vendor, family, model, stepping,"
                " microcode, boot_options, max_policy, default_policy, joined)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
    if ( s.prepared() != SQLITE_OK )
        return fail(s.prepared(), "adding a host");
    s.bind(1, row.pool_id);
    s.bind(2, row.name);
    s.bind(3, row.uri);
    s.bind(4, row.vendor);
    s.bind(5, int64_t{row.family});
    s.bind(6, int64_t{row.model});
    s.bind(7, int64_t{row.stepping});
    s.bind(8, row.microcode);
    s.bind(9, row.boot_options);
    s.bind(10, row.max_policy);
    s.bind(11, row.default_policy);
    s.bind(12, row.joined);
    int rc = s.step();
    if ( rc != SQLITE_DONE )
    {
        int e = fail(rc, "adding a host");
        if ( e == -EEXIST )
            err_ = "the pool has a host named '" + row.name + "' already";
        return e;
    }
    row.id = sqlite3_last_insert_rowid(db_);
    return 0;
}

int Store::update_host(const HostRow &row)
{
    Stmt s(db_, "UPDATE hosts SET uri = ?2, vendor = ?3, family = ?4, model = ?5,"
                " stepping = ?6, microcode = ?7, boot_options = ?8, max_policy = ?9,"
                " default_policy = ?10 WHERE id = ?1");
    if ( s.prepared() != SQLITE_OK )
        return fail(s.prepared(), "updating a host");
    s.bind(1, row.id);
    s.bind(2, row.uri);
    s.bind(3, row.vendor);
    s.bind(4, int64_t{row.family});
    s.bind(5, int64_t{row.model});
    s.bind(6, int64_t{row.stepping});
    s.bind(7, row.microcode);
    s.bind(8, row.boot_options);
    s.bind(9, row.max_policy);
    s.bind(10, row.default_policy);
    int rc = s.step();
    return rc == SQLITE_DONE ? 0 : fail(rc, "updating a host");
}

int Store::delete_host(int64_t host_id)
{
    Stmt s(db_, "DELETE FROM hosts WHERE id = ?1");
    if ( s.prepared() != SQLITE_OK )
        return fail(s.prepared(), "removing a host");
    s.bind(1, host_id);
    int rc = s.step();
    return rc == SQLITE_DONE ? 0 : fail(rc, "removing a host");
}

// --- VMs ---------------------------------------------------------------------------------

namespace {
const char VM_SELECT[] =
    "SELECT v.id, v.name, COALESCE(v.pool_id, 0), COALESCE(p.name, ''), v.host, v.host_uri,"
    " v.domid, v.policy, v.config, v.created FROM vms v LEFT JOIN pools p ON p.id = v.pool_id";
void read_vm(Stmt &s, VmRow &r)
{
    r.id = s.i64(0);
    r.name = s.text(1);
    r.pool_id = s.i64(2);
    r.pool = s.text(3);
    r.host = s.text(4);
    r.host_uri = s.text(5);
    r.domid = static_cast<uint32_t>(s.i64(6));
    r.policy = s.text(7);
    r.config = s.text(8);
    r.created = s.i64(9);
}
} // namespace

int Store::get_vm(const std::string &name, VmRow &out)
{
    Stmt s(db_, (std::string(VM_SELECT) + " WHERE v.name = ?1").c_str());
    if ( s.prepared() != SQLITE_OK )
        return fail(s.prepared(), "reading a VM");
    s.bind(1, name);
    int rc = s.step();
    if ( rc == SQLITE_DONE )
    {
        err_ = "no VM named '" + name + "' in " + path_;
        return -ENOENT;
    }
    if ( rc != SQLITE_ROW )
        return fail(rc, "reading a VM");
    read_vm(s, out);
    return 0;
}

int Store::list_vms(int64_t pool_id, std::vector<VmRow> &out)
{
    Stmt s(db_, (std::string(VM_SELECT) + " WHERE ?1 = 0 OR v.pool_id = ?1 ORDER BY v.name").c_str());
    if ( s.prepared() != SQLITE_OK )
        return fail(s.prepared(), "listing VMs");
    s.bind(1, pool_id);
    out.clear();
    int rc;
    while ( (rc = s.step()) == SQLITE_ROW )
    {
        out.emplace_back();
        read_vm(s, out.back());
    }
    return rc == SQLITE_DONE ? 0 : fail(rc, "listing VMs");
}

int Store::insert_vm(VmRow &row)
{
    Stmt s(db_, "INSERT INTO vms (name, pool_id, host, host_uri, domid, policy, config, created)"
                " VALUES (?1, NULLIF(?2, 0), ?3, ?4, ?5, ?6, ?7, ?8)");
    if ( s.prepared() != SQLITE_OK )
        return fail(s.prepared(), "recording a VM");
    s.bind(1, row.name);
    s.bind(2, row.pool_id);
    s.bind(3, row.host);
    s.bind(4, row.host_uri);
    s.bind(5, int64_t{row.domid});
    s.bind(6, row.policy);
    s.bind(7, row.config);
    s.bind(8, row.created);
    int rc = s.step();
    if ( rc != SQLITE_DONE )
    {
        int e = fail(rc, "recording a VM");
        if ( e == -EEXIST )
            err_ = "a VM named '" + row.name + "' exists already in " + path_;
        return e;
    }
    row.id = sqlite3_last_insert_rowid(db_);
    return 0;
}

int Store::update_vm_placement(int64_t vm_id, const std::string &host, const std::string &host_uri,
                               uint32_t domid)
{
    Stmt s(db_, "UPDATE vms SET host = ?2, host_uri = ?3, domid = ?4 WHERE id = ?1");
    if ( s.prepared() != SQLITE_OK )
        return fail(s.prepared(), "moving a VM");
    s.bind(1, vm_id);
    s.bind(2, host);
    s.bind(3, host_uri);
    s.bind(4, int64_t{domid});
    int rc = s.step();
    return rc == SQLITE_DONE ? 0 : fail(rc, "moving a VM");
}

int Store::delete_vm(int64_t vm_id)
{
    Stmt s(db_, "DELETE FROM vms WHERE id = ?1");
    if ( s.prepared() != SQLITE_OK )
        return fail(s.prepared(), "removing a VM");
    s.bind(1, vm_id);
    int rc = s.step();
    return rc == SQLITE_DONE ? 0 : fail(rc, "removing a VM");
}

// --- History -----------------------------------------------------------------------------

int Store::history(int64_t pool_id, std::vector<HistoryRow> &out)
{
    Stmt s(db_, "SELECT seq, event, host, level_policy, detail, at FROM history"
                " WHERE pool_id = ?1 ORDER BY seq");
    if ( s.prepared() != SQLITE_OK )
        return fail(s.prepared(), "reading the pool's history");
    s.bind(1, pool_id);
    out.clear();
    int rc;
    while ( (rc = s.step()) == SQLITE_ROW )
    {
        HistoryRow r;
        r.seq = s.i64(0);
        r.event = s.text(1);
        r.host = s.text(2);
        r.level_policy = s.text(3);
        r.detail = s.text(4);
        r.at = s.i64(5);
        out.push_back(std::move(r));
    }
    return rc == SQLITE_DONE ? 0 : fail(rc, "reading the pool's history");
}

int Store::add_history(int64_t pool_id, const HistoryRow &row)
{
    Stmt s(db_, "INSERT INTO history (pool_id, seq, event, host, level_policy, detail, at)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    if ( s.prepared() != SQLITE_OK )
        return fail(s.prepared(), "recording the pool's history");
    s.bind(1, pool_id);
    s.bind(2, row.seq);
    s.bind(3, row.event);
    s.bind(4, row.host);
    s.bind(5, row.level_policy);
    s.bind(6, row.detail);
    s.bind(7, row.at);
    int rc = s.step();
    return rc == SQLITE_DONE ? 0 : fail(rc, "recording the pool's history");
}

} // namespace cpupolicy::store
