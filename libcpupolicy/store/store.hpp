// SPDX-License-Identifier: MIT
// The toolstack's store: pools, their member hosts, the pool level's history and the
// VMs placed in a pool, in one SQLite database (docs/toolstack.md, "The store").
//
// An L1 piece: it knows rows and transactions, nothing about policies.  Policies and
// featuresets are stored as the library's text forms (opaque TEXT here), so the store
// never depends on how a policy is laid out.
//
// Rules:
//  - WAL journal, synchronous=FULL, foreign keys on.  Every change a caller makes is
//    one transaction (begin_write() .. commit()); a process killed inside one leaves
//    the database as it was before it (SQLite's atomic commit, https://sqlite.org/atomiccommit.html).
//  - begin_write() takes the write lock at once (BEGIN IMMEDIATE), so two writers
//    never deadlock on a lock upgrade: the second waits up to the busy timeout
//    (CPUPOLICY_STORE_BUSY_MS, default 5000 ms) and then gets -EBUSY with a message
//    saying another process is changing the store.
//  - The schema is versioned with PRAGMA user_version and migrated forward on open,
//    each step in its own transaction; a database newer than this build is refused
//    (-EPROTONOSUPPORT) rather than guessed at.
//  - 0 or a negative errno everywhere; error() holds the message of the last failure
//    ("PATH: what").
#pragma once

#include <stdint.h>

#include <memory>
#include <string>
#include <vector>

struct sqlite3;

namespace cpupolicy::store {

inline constexpr int SCHEMA_VERSION = 2;

struct PoolRow {
    int64_t id = 0;
    std::string name;
    std::string type;           // "hvm" or "pv"
    std::string level_policy;   // policy text of the pool level (max), "" while empty
    std::string level_default;  // policy text of the level's default policy
    int64_t generation = 0;     // bumped by every level change (history seq)
    int64_t created = 0;        // unix seconds
};

struct HostRow {
    int64_t id = 0;
    int64_t pool_id = 0;
    std::string name;
    std::string uri;
    std::string vendor;
    uint32_t family = 0, model = 0, stepping = 0;
    std::string microcode;       // "" where the backend does not know it
    std::string boot_options;    // "" for none / unknown
    std::string max_policy;      // policy text of the pool type's max policy
    std::string default_policy;  // policy text of the pool type's default policy
    int64_t joined = 0;
};

struct VmRow {
    int64_t id = 0;
    std::string name;
    int64_t pool_id = 0;     // 0: not in a pool
    std::string pool;        // filled by reads
    std::string host;        // member host name it runs on
    std::string host_uri;
    uint32_t domid = ~0u;
    std::string policy;      // policy text
    std::string config;      // how it was built (JSON text, opaque here)
    int64_t created = 0;
};

struct HistoryRow {
    int64_t seq = 0;
    std::string event;       // create, join, eject, refresh
    std::string host;        // the host the event concerned ("" for create)
    std::string level_policy;
    std::string detail;      // what moved (JSON text, opaque here)
    int64_t at = 0;
};

class Store {
public:
    // Open (creating the file and its directory when missing) and migrate.
    [[nodiscard]] static int open(const std::string &path, std::unique_ptr<Store> &out,
                                  std::string &why);
    ~Store();
    Store(const Store &) = delete;
    Store &operator=(const Store &) = delete;

    const std::string &path() const { return path_; }
    const std::string &error() const { return err_; }
    int schema_version() const { return version_; }

    // Transactions.  begin_write: -EBUSY when another process holds the write lock
    // past the busy timeout.  commit: -EBUSY likewise (nothing committed).
    [[nodiscard]] int begin_write();
    [[nodiscard]] int commit();
    void rollback();
    bool in_transaction() const { return in_txn_; }

    // Pools.  -ENOENT no such pool, -EEXIST a pool of that name exists.
    [[nodiscard]] int get_pool(const std::string &name, PoolRow &out);
    [[nodiscard]] int list_pools(std::vector<PoolRow> &out);
    [[nodiscard]] int insert_pool(PoolRow &row);
    [[nodiscard]] int update_pool_level(int64_t pool_id, const std::string &level_policy,
                                        const std::string &level_default, int64_t generation);
    [[nodiscard]] int delete_pool(int64_t pool_id);

    // Hosts (members).  Names are unique within a pool.
    [[nodiscard]] int hosts_of(int64_t pool_id, std::vector<HostRow> &out);
    [[nodiscard]] int insert_host(HostRow &row);
    [[nodiscard]] int update_host(const HostRow &row);
    [[nodiscard]] int delete_host(int64_t host_id);

    // VMs.  Names are unique in the store.  list: pool_id 0 = all pools.
    [[nodiscard]] int get_vm(const std::string &name, VmRow &out);
    [[nodiscard]] int list_vms(int64_t pool_id, std::vector<VmRow> &out);
    [[nodiscard]] int insert_vm(VmRow &row);
    [[nodiscard]] int update_vm_placement(int64_t vm_id, const std::string &host,
                                          const std::string &host_uri, uint32_t domid);
    [[nodiscard]] int delete_vm(int64_t vm_id);

    // History of a pool's level, oldest first.
    [[nodiscard]] int history(int64_t pool_id, std::vector<HistoryRow> &out);
    [[nodiscard]] int add_history(int64_t pool_id, const HistoryRow &row);

private:
    Store() = default;
    [[nodiscard]] int exec(const char *sql);
    [[nodiscard]] int fail(int rc_sqlite, const char *what);
    [[nodiscard]] int migrate();

    sqlite3 *db_ = nullptr;
    std::string path_;
    std::string err_;
    int version_ = 0;
    int busy_ms_ = 5000;
    bool in_txn_ = false;
};

// The default database: /var/lib/cpupolicy/cpupolicy.db as root, else
// $XDG_STATE_HOME/cpupolicy/cpupolicy.db ($HOME/.local/state when XDG_STATE_HOME is unset
// or not absolute, as the XDG Base Directory specification says).  "" when neither can be
// determined (no HOME).
std::string default_path();

// Unix time now, in seconds.
int64_t now();

} // namespace cpupolicy::store
