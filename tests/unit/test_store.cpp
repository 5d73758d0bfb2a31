// SPDX-License-Identifier: MIT
// The SQLite store (libcpupolicy/store/): schema creation and migration from an older
// version, a newer schema refused, WAL mode, a second writer told "busy", constraint
// errors, and a transaction that is not committed leaving nothing behind.
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <string>

#include "harness.hpp"
#include "store.hpp"

using namespace cpupolicy::store;

namespace {

struct TmpDir {
    std::string dir;
    TmpDir()
    {
        char t[] = "/tmp/test_store.XXXXXX";
        dir = mkdtemp(t);
    }
    ~TmpDir()
    {
        std::string cmd = "rm -rf '" + dir + "'";
        (void)!system(cmd.c_str());
    }
    std::string db() const { return dir + "/sub/dir/store.db"; }
};

std::string sql1(const std::string &path, const char *q)
{
    sqlite3 *db = nullptr;
    std::string out;
    if ( sqlite3_open(path.c_str(), &db) == SQLITE_OK )
    {
        sqlite3_stmt *s = nullptr;
        if ( sqlite3_prepare_v2(db, q, -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW )
        {
            const unsigned char *t = sqlite3_column_text(s, 0);
            out = t ? reinterpret_cast<const char *>(t) : "";
        }
        sqlite3_finalize(s);
    }
    sqlite3_close(db);
    return out;
}

void exec(const std::string &path, const char *q)
{
    sqlite3 *db = nullptr;
    sqlite3_open(path.c_str(), &db);
    sqlite3_exec(db, q, nullptr, nullptr, nullptr);
    sqlite3_close(db);
}

TEST(open_creates_directories_schema_and_wal)
{
    TmpDir t;
    std::unique_ptr<Store> s;
    std::string why;
    REQUIRE_RC(0, Store::open(t.db(), s, why));
    EXPECT_EQ(SCHEMA_VERSION, s->schema_version());
    EXPECT_EQ(std::string("2"), sql1(t.db(), "PRAGMA user_version"));
    EXPECT_EQ(std::string("wal"), sql1(t.db(), "PRAGMA journal_mode"));
    EXPECT_EQ(std::string("history"),
              sql1(t.db(), "SELECT name FROM sqlite_master WHERE name = 'history'"));
}

TEST(a_version_1_store_is_migrated_and_keeps_its_rows)
{
    TmpDir t;
    {
        std::unique_ptr<Store> s;
        std::string why;
        REQUIRE_RC(0, Store::open(t.db(), s, why));
    }
    // Make it a version-1 store with one pool: what an older build left behind.
    exec(t.db(), "DROP TABLE history; ALTER TABLE pools DROP COLUMN generation;"
                 "INSERT INTO pools (name, type, created) VALUES ('old', 'pv', 7);"
                 "PRAGMA user_version = 1;");
    EXPECT_EQ(std::string("1"), sql1(t.db(), "PRAGMA user_version"));
    std::unique_ptr<Store> s;
    std::string why;
    REQUIRE_RC(0, Store::open(t.db(), s, why));
    EXPECT_EQ(std::string("2"), sql1(t.db(), "PRAGMA user_version"));
    PoolRow p;
    REQUIRE_RC(0, s->get_pool("old", p));
    EXPECT_EQ(std::string("pv"), p.type);
    EXPECT_EQ(int64_t{0}, p.generation);
    std::vector<HistoryRow> h;
    EXPECT_RC(0, s->history(p.id, h));
    EXPECT_EQ(size_t{0}, h.size());
}

TEST(a_store_from_a_newer_build_is_refused_naming_both_versions)
{
    TmpDir t;
    {
        std::unique_ptr<Store> s;
        std::string why;
        REQUIRE_RC(0, Store::open(t.db(), s, why));
    }
    exec(t.db(), "PRAGMA user_version = 9");
    std::unique_ptr<Store> s;
    std::string why;
    EXPECT_RC(-EPROTONOSUPPORT, Store::open(t.db(), s, why));
    EXPECT_TRUE(why.find("schema version 9 is newer than this build's 2") != std::string::npos);
    EXPECT_TRUE(!s);
}

TEST(a_file_that_is_not_a_store_is_refused)
{
    TmpDir t;
    std::string path = t.dir + "/junk.db";
    FILE *f = fopen(path.c_str(), "w");
    fputs("this is not an SQLite database, not even close; padding padding padding padding\n", f);
    fclose(f);
    std::unique_ptr<Store> s;
    std::string why;
    EXPECT_RC(-EINVAL, Store::open(path, s, why));
    EXPECT_TRUE(why.find(path) == 0);
}

TEST(a_second_writer_gets_busy_with_a_clear_message)
{
    TmpDir t;
    setenv("CPUPOLICY_STORE_BUSY_MS", "50", 1);
    std::unique_ptr<Store> a, b;
    std::string why;
    REQUIRE_RC(0, Store::open(t.db(), a, why));
    REQUIRE_RC(0, Store::open(t.db(), b, why));
    unsetenv("CPUPOLICY_STORE_BUSY_MS");
    REQUIRE_RC(0, a->begin_write());
    EXPECT_RC(-EBUSY, b->begin_write());
    EXPECT_TRUE(b->error().find("busy: another cpupolicy process is changing this store (waited 50 ms)") !=
                std::string::npos);
    // Readers are not blocked by the writer (WAL).
    std::vector<PoolRow> pools;
    EXPECT_RC(0, b->list_pools(pools));
    a->rollback();
    EXPECT_RC(0, b->begin_write());
    b->rollback();
}

TEST(an_uncommitted_transaction_leaves_nothing)
{
    TmpDir t;
    std::unique_ptr<Store> s;
    std::string why;
    REQUIRE_RC(0, Store::open(t.db(), s, why));
    REQUIRE_RC(0, s->begin_write());
    PoolRow p;
    p.name = "gone";
    p.type = "hvm";
    REQUIRE_RC(0, s->insert_pool(p));
    s.reset();  // closed mid-transaction, as a killed process would leave it
    REQUIRE_RC(0, Store::open(t.db(), s, why));
    EXPECT_RC(-ENOENT, s->get_pool("gone", p));
    EXPECT_TRUE(s->error().find("no pool named 'gone'") != std::string::npos);
}

TEST(names_are_unique_with_errors_that_say_so)
{
    TmpDir t;
    std::unique_ptr<Store> s;
    std::string why;
    REQUIRE_RC(0, Store::open(t.db(), s, why));
    PoolRow p;
    p.name = "p";
    p.type = "hvm";
    REQUIRE_RC(0, s->insert_pool(p));
    PoolRow q = p;
    EXPECT_RC(-EEXIST, s->insert_pool(q));
    EXPECT_TRUE(s->error().find("a pool named 'p' exists already") != std::string::npos);
    HostRow h;
    h.pool_id = p.id;
    h.name = "h";
    REQUIRE_RC(0, s->insert_host(h));
    HostRow h2 = h;
    EXPECT_RC(-EEXIST, s->insert_host(h2));
    EXPECT_TRUE(s->error().find("the pool has a host named 'h' already") != std::string::npos);
    p.type = "xx";
    p.name = "bad-type";
    EXPECT_RC(-EEXIST, s->insert_pool(p));  // CHECK constraint: refused, nothing written
    EXPECT_RC(-ENOENT, s->get_pool("bad-type", q));
}

TEST(a_pool_with_vms_cannot_be_deleted)
{
    TmpDir t;
    std::unique_ptr<Store> s;
    std::string why;
    REQUIRE_RC(0, Store::open(t.db(), s, why));
    PoolRow p;
    p.name = "p";
    p.type = "hvm";
    REQUIRE_RC(0, s->insert_pool(p));
    VmRow v;
    v.name = "vm";
    v.pool_id = p.id;
    REQUIRE_RC(0, s->insert_vm(v));
    EXPECT_RC(-EBUSY, s->delete_pool(p.id));
    VmRow got;
    REQUIRE_RC(0, s->get_vm("vm", got));
    EXPECT_EQ(std::string("p"), got.pool);
}

TEST(default_path_follows_root_and_xdg)
{
    if ( geteuid() == 0 )
    {
        EXPECT_EQ(std::string("/var/lib/cpupolicy/cpupolicy.db"), default_path());
        return;
    }
    setenv("XDG_STATE_HOME", "/x/state", 1);
    EXPECT_EQ(std::string("/x/state/cpupolicy/cpupolicy.db"), default_path());
    setenv("XDG_STATE_HOME", "relative", 1);
    setenv("HOME", "/home/u", 1);
    EXPECT_EQ(std::string("/home/u/.local/state/cpupolicy/cpupolicy.db"), default_path());
}

} // namespace

int main()
{
    return unittest::run_all("test_store.cpp");
}
