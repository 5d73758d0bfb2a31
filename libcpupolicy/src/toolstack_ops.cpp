// SPDX-License-Identifier: MIT
// Pools and VMs in a store (cpupolicy_toolstack.h, "Pools and VMs in a store"): each
// operation reads what it needs from hosts over handles first, then makes its change in
// one store transaction, and answers with a JSON document (shape version 1,
// docs/toolstack.md "JSON") built with nlohmann::json.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <initializer_list>
#include <set>
#include <utility>

#define JSON_NOEXCEPTION 1
#include <nlohmann/json.hpp>

#include "api.hpp"
#include "backend_embedded.hpp"
#include "build.hpp"
#include "cpupolicy/compat.hpp"
#include "cpupolicy_models.h"
#include "store.hpp"

using namespace cpupolicy;
using namespace cpupolicy::ts;
using cpupolicy::abi::ErrnoGuard;
using json = nlohmann::json;
using store::HistoryRow;
using store::HostRow;
using store::PoolRow;
using store::VmRow;

struct cpupolicy_store {
    std::unique_ptr<store::Store> st;
    std::string err;
    cpupolicy_progress_fn progress = nullptr;  // cpupolicy_store_set_progress
    void *progress_arg = nullptr;
};

namespace {

constexpr int JSON_SHAPE = 1;
constexpr uint32_t NONE = ~0u;

// Tell the caller's progress callback, if any, about step `done` of `total`.
void progress(const cpupolicy_store_t *s, const std::string &what, uint32_t done, uint32_t total)
{
    if ( s->progress )
        s->progress(s->progress_arg, what.c_str(), done, total);
}

struct HandleClose {
    void operator()(cpupolicy_handle_t *h) const { cpupolicy_close(h); }
};
using HandlePtr = std::unique_ptr<cpupolicy_handle_t, HandleClose>;

json doc(const char *kind)
{
    return json{{"cpupolicy", JSON_SHAPE}, {"kind", kind}};
}

int answer(const json &j, char **out, int rc)
{
    if ( out )
    {
        std::string s = j.dump(2, ' ', false, json::error_handler_t::replace);
        *out = static_cast<char *>(malloc(s.size() + 1));
        if ( !*out )
            return -ENOMEM;
        memcpy(*out, s.c_str(), s.size() + 1);
    }
    return rc;
}

// A document holding one list: {"cpupolicy": 1, "kind": kind, key: items}.
int answer_list(const char *kind, const char *key, json items, char **out)
{
    json j = doc(kind);
    j[key] = std::move(items);
    return answer(j, out, 0);
}

// The start of every entry point on a store: the answer cleared (when there is one),
// the store and the other required arguments checked (-EINVAL if any is NULL), the
// store's last message cleared.
int begin_call(cpupolicy_store_t *s, char **out, std::initializer_list<const void *> required)
{
    if ( out )
        *out = nullptr;
    if ( !s )
        return -EINVAL;
    for ( const void *arg : required )
        if ( !arg )
            return -EINVAL;
    s->err.clear();
    return 0;
}

// A failure that still answers with a document (refusals, parse errors, a failed
// migration step): the message of s->err to cpupolicy_last_error() too.
int refuse(cpupolicy_store_t *s, const json &j, char **out, int rc)
{
    abi::detail("%s", s->err.c_str());
    return answer(j, out, rc);
}

json opt_u32(uint32_t v)
{
    return v == NONE ? json(nullptr) : json(v);
}

const char *item_kind(uint32_t k)
{
    static const char *const names[] = {"vendor",       "feature", "numeric", "bits",
                                        "xstate-layout", "max-ext-leaf", "faulting", "policy"};
    return k < sizeof(names) / sizeof(names[0]) ? names[k] : "unknown";
}

json item_json(const cpupolicy_report_item_t &it, const char *gname = "guest",
               const char *hname = "host")
{
    json j{{"kind", item_kind(it.kind)},
           {"name", it.name ? it.name : ""},
           {"leaf", opt_u32(it.leaf)},
           {"subleaf", opt_u32(it.subleaf)},
           {"msr", opt_u32(it.msr)},
           {gname, it.guest},
           {hname, it.host}};
    if ( it.kind == CPUPOLICY_ITEM_FEATURE || it.kind == CPUPOLICY_ITEM_POLICY )
        j["feature"] = it.feature;
    if ( it.detail )
        j["detail"] = it.detail;
    return j;
}

// A report as {"features": [names], "fields": [non-feature items]}, values named.
json loss_json(const cpupolicy_report_t &r, const char *gname, const char *hname)
{
    json feats = json::array(), fields = json::array();
    for ( uint32_t i = 0; i < r.nr_items; ++i )
    {
        const auto &it = r.items[i];
        if ( it.kind == CPUPOLICY_ITEM_FEATURE )
            feats.push_back(it.name);
        else
            fields.push_back(item_json(it, gname, hname));
    }
    return json{{"features", feats}, {"fields", fields}};
}

json verdict_json(const cpupolicy_report_t &r)
{
    json missing = json::array(), fields = json::array();
    for ( uint32_t i = 0; i < r.nr_items; ++i )
    {
        const auto &it = r.items[i];
        if ( it.kind == CPUPOLICY_ITEM_FEATURE )
            missing.push_back(it.name);
        else
            fields.push_back(item_json(it));
    }
    return json{{"compatible", bool(r.compatible)},
                {"first_failure",
                 {{"leaf", opt_u32(r.first.leaf)},
                  {"subleaf", opt_u32(r.first.subleaf)},
                  {"msr", opt_u32(r.first.msr)}}},
                {"missing_features", missing},
                {"fields", fields}};
}

// Every numeric field the complete report compares (compat.hpp's numeric_fields, then
// the effective max extended leaf), with the policy's value: what a pool picture shows
// beside the features.  kind as in an item: "numeric" (le) or "bits" (subset).
json numeric_fields_json(const cpupolicy_t *p)
{
    const Policy &pol = p->p;
    const PolicyRanges r = policy_ranges(pol);
    uint32_t v[NR_NUMERIC_FIELDS];
    numeric_field_values(pol, r, v);
    json a = json::array();
    for ( unsigned i = 0; i < NR_NUMERIC_FIELDS; ++i )
    {
        const NumericField &f = numeric_fields[i];
        a.push_back(json{{"name", f.what},
                         {"kind", f.kind == FieldKind::le ? "numeric" : "bits"},
                         {"leaf", raw(f.field.leaf)},
                         {"subleaf", opt_u32(raw(f.field.subleaf))},
                         {"value", v[i]}});
    }
    a.push_back(json{{"name", "max extended leaf"}, {"kind", "max-ext-leaf"},
                     {"leaf", EXTD_FIRST}, {"subleaf", nullptr},
                     {"value", policy_extd_limit(pol)}});
    return a;
}

// --- Policies to and from the store -------------------------------------------------------

int load(const std::string &text, PolicyPtr &out, std::string &why, const std::string &what)
{
    out = new_policy();
    if ( !out )
        return -ENOMEM;
    std::string e;
    if ( int rc = policy_from_text(out.get(), text, &e) )
    {
        why = "the store's " + what + " does not parse: " + e;
        return rc == -EINVAL ? -EIO : rc;
    }
    return 0;
}

std::string fs_text(const cpupolicy_t *p)
{
    return featureset_text(featureset_of(p));
}

json names_of(const std::vector<uint32_t> &fs)
{
    json a = json::array();
    for ( const auto &n : feature_names(fs) )
        a.push_back(n);
    return a;
}

// Features in a but not in b.
std::vector<uint32_t> minus(const std::vector<uint32_t> &a, const std::vector<uint32_t> &b)
{
    std::vector<uint32_t> r(a.size());
    for ( size_t i = 0; i < a.size(); ++i )
        r[i] = a[i] & ~(i < b.size() ? b[i] : 0);
    return r;
}

// --- Levels -------------------------------------------------------------------------------

struct Level {
    PolicyPtr max, def;  // null: no members
};

int compute_level(const std::vector<HostRow> &hosts, Level &out, std::string &why)
{
    out = Level{};
    if ( hosts.empty() )
        return 0;
    std::vector<PolicyPtr> maxes, defs;
    std::vector<const cpupolicy_t *> mp, dp;
    for ( const auto &h : hosts )
    {
        PolicyPtr m, d;
        if ( int rc = load(h.max_policy, m, why, "max policy of host " + h.name) )
            return rc;
        if ( int rc = load(h.default_policy, d, why, "default policy of host " + h.name) )
            return rc;
        mp.push_back(m.get());
        dp.push_back(d.get());
        maxes.push_back(std::move(m));
        defs.push_back(std::move(d));
    }
    out.max = new_policy();
    out.def = new_policy();
    if ( !out.max || !out.def )
        return -ENOMEM;
    uint32_t bad = NONE;
    int rc = cpupolicy_calc_compatible(out.max.get(), mp.data(), uint32_t(mp.size()), &bad);
    if ( rc == 0 )
        rc = cpupolicy_calc_compatible(out.def.get(), dp.data(), uint32_t(dp.size()), &bad);
    if ( rc )
    {
        why = bad < hosts.size() ? "host " + hosts[bad].name + " (" + hosts[bad].vendor +
                                       ") cannot be levelled with " + hosts[0].name + " (" +
                                       hosts[0].vendor + "): the vendors differ"
                                 : std::string("levelling failed: ") + strerror(-rc);
        return rc;
    }
    return 0;
}

int level_texts(const Level &l, std::string &max, std::string &def)
{
    max.clear();
    def.clear();
    if ( !l.max )
        return 0;
    if ( int rc = policy_to_text(l.max.get(), max) )
        return rc;
    return policy_to_text(l.def.get(), def);
}

// What the level lost going from `before` to `after` (either may be empty).
json level_change(const cpupolicy_t *before, const cpupolicy_t *after)
{
    json j{{"before", before ? json(fs_text(before)) : json(nullptr)},
           {"after", after ? json(fs_text(after)) : json(nullptr)}};
    if ( before && after )
    {
        cpupolicy_report_t *r = nullptr;
        if ( cpupolicy_compat_report(after, before, &r) == 0 )
        {
            j["lost"] = loss_json(*r, "old", "new");
            cpupolicy_report_free(r);
        }
        j["gained"] = names_of(minus(featureset_of(after), featureset_of(before)));
    }
    else
    {
        j["lost"] = json{{"features", json::array()}, {"fields", json::array()}};
        j["gained"] = after && !before ? names_of(featureset_of(after)) : json::array();
    }
    return j;
}

// VMs of the pool that would not fit `level`: each named with what it loses.
json stranded(const std::vector<VmRow> &vms, const cpupolicy_t *level, std::string &why, int &rc)
{
    json out = json::array();
    rc = 0;
    for ( const auto &vm : vms )
    {
        PolicyPtr p;
        if ( (rc = load(vm.policy, p, why, "policy of VM " + vm.name)) )
            return out;
        if ( !level )
        {
            out.push_back(json{{"vm", vm.name}, {"host", vm.host}, {"loses", nullptr}});
            continue;
        }
        cpupolicy_report_t *r = nullptr;
        if ( (rc = cpupolicy_compat_report(level, p.get(), &r)) )
            return out;
        if ( !r->compatible )
            out.push_back(json{{"vm", vm.name}, {"host", vm.host},
                               {"loses", loss_json(*r, "vm", "level")}});
        cpupolicy_report_free(r);
    }
    return out;
}

// --- Hosts over handles -------------------------------------------------------------------

std::string uri_boot_options(const std::string &uri)
{
    sim::SimConfig cfg;
    std::string why;
    if ( uri.rfind("sim:", 0) != 0 || parse_sim_uri(uri.c_str() + 4, cfg, why) )
        return "";
    return cfg.boot_options;
}

std::string name_from_uri(const std::string &uri)
{
    std::string s = uri;
    if ( s.rfind("sim:", 0) == 0 )
    {
        size_t d = s.find("dump=");
        s = d == std::string::npos ? "native" : s.substr(d + 5);
        s = s.substr(0, s.find(','));
    }
    else if ( s.rfind("ssh:", 0) == 0 )
    {
        s = s.substr(4);
        s = s.substr(0, s.find('/'));
        size_t at = s.find('@');
        if ( at != std::string::npos )
            s = s.substr(at + 1);
        return s.empty() ? uri : s;
    }
    else if ( s.find(':') != std::string::npos )
        s = s.substr(s.find(':') + 1);
    size_t slash = s.find_last_of('/');
    if ( slash != std::string::npos )
        s = s.substr(slash + 1);
    size_t dot = s.find_last_of('.');
    if ( dot != std::string::npos && dot > 0 )
        s = s.substr(0, dot);
    return s.empty() ? uri : s;
}

int open_host(const std::string &uri, HandlePtr &h, std::string &why)
{
    cpupolicy_handle_t *raw = nullptr;
    int rc = cpupolicy_open(&raw, uri.c_str());
    if ( rc )
    {
        const char *w = cpupolicy_last_open_error();
        why = "cannot reach host " + uri + ": " + (w && *w ? w : strerror(-rc));
        return rc;
    }
    h.reset(raw);
    return 0;
}

// Read a host: its max and default policies for the pool type, and its identity.
int read_host(const std::string &uri, const std::string &type, HostRow &row, std::string &why)
{
    HandlePtr h;
    if ( int rc = open_host(uri, h, why) )
        return rc;
    const bool pv = type == "pv";
    PolicyPtr max = new_policy(), def = new_policy(), raw = new_policy();
    if ( !max || !def || !raw )
        return -ENOMEM;
    if ( int rc = cpupolicy_get_system_policy(h.get(), pv ? CPUPOLICY_PV_MAX : CPUPOLICY_HVM_MAX,
                                              max.get()) )
    {
        why = "host " + uri + ": reading its " + type + " max policy: " + strerror(-rc);
        return rc;
    }
    if ( int rc = cpupolicy_get_system_policy(
             h.get(), pv ? CPUPOLICY_PV_DEFAULT : CPUPOLICY_HVM_DEFAULT, def.get()) )
    {
        why = "host " + uri + ": reading its " + type + " default policy: " + strerror(-rc);
        return rc;
    }
    // Identity from the raw policy where the backend gives one, else from max.
    const cpupolicy_t *id = cpupolicy_get_system_policy(h.get(), CPUPOLICY_RAW, raw.get()) == 0
                                ? raw.get() : max.get();
    row.uri = uri;
    row.vendor = vendor_of(id);
    signature_of(id, &row.family, &row.model, &row.stepping);
    row.microcode = "";  // no backend reports it yet
    row.boot_options = uri_boot_options(uri);
    if ( int rc = policy_to_text(max.get(), row.max_policy) )
        return rc;
    return policy_to_text(def.get(), row.default_policy);
}

json host_json(const HostRow &h)
{
    PolicyPtr m = new_policy();
    std::string fs;
    if ( m && policy_from_text(m.get(), h.max_policy) == 0 )
        fs = fs_text(m.get());
    char sig[32];
    snprintf(sig, sizeof(sig), "%02x-%02x-%x", h.family, h.model, h.stepping);
    return json{{"name", h.name},       {"uri", h.uri},
                {"vendor", h.vendor},   {"family", h.family},
                {"model", h.model},     {"stepping", h.stepping},
                {"signature", sig},
                {"microcode", h.microcode.empty() ? json(nullptr) : json(h.microcode)},
                {"boot_options", h.boot_options},
                {"featureset", fs},     {"joined", h.joined}};
}

// Debug hook for the crash-safety test: with CPUPOLICY_TEST_HOLD_TXN=FILE, a change
// that is about to commit creates FILE and waits (up to 60 s) inside its transaction,
// so a test can kill -9 the process there.  Never set in production.
void test_hold(const char *op)
{
    const char *f = getenv("CPUPOLICY_TEST_HOLD_TXN");
    if ( !f || !*f )
        return;
    FILE *m = fopen(f, "w");
    if ( m )
    {
        fprintf(m, "%s %d\n", op, int(getpid()));
        fclose(m);
    }
    for ( int i = 0; i < 600; ++i )
        usleep(100000);
}

// --- Store helpers ------------------------------------------------------------------------

struct Txn {
    store::Store &s;
    bool done = false;
    explicit Txn(store::Store &st) : s(st) {}
    ~Txn()
    {
        if ( !done && s.in_transaction() )
            s.rollback();
    }
    int commit()
    {
        done = true;
        return s.commit();
    }
};

// Every failure's message goes to cpupolicy_last_error() (and stays in s->err for the
// refusals that also answer with a document).
int fail(cpupolicy_store_t *s, int rc, const std::string &why)
{
    s->err = why.empty() ? std::string(strerror(-rc)) : why;
    abi::detail("%s", s->err.c_str());
    return rc;
}

int store_fail(cpupolicy_store_t *s, int rc)
{
    return fail(s, rc, s->st->error());
}

bool bad_name(const char *n)
{
    if ( !n || !*n || strlen(n) > 128 )
        return true;
    for ( const char *c = n; *c; ++c )
        if ( *c < 0x21 || *c > 0x7e || *c == ':' || *c == '/' )
            return true;
    return false;
}

const HostRow *find_host(const std::vector<HostRow> &hosts, const std::string &name)
{
    for ( const auto &h : hosts )
        if ( h.name == name )
            return &h;
    return nullptr;
}

int add_history(store::Store &st, PoolRow &pool, const char *event, const std::string &host,
                const std::string &level_text, const json &detail)
{
    HistoryRow h;
    h.seq = ++pool.generation;
    h.event = event;
    h.host = host;
    h.level_policy = level_text;
    h.detail = detail.dump(-1, ' ', false, json::error_handler_t::replace);
    h.at = store::now();
    return st.add_history(pool.id, h);
}

// Load pool + hosts + level of the pool, inside or outside a transaction.
struct PoolState {
    PoolRow pool;
    std::vector<HostRow> hosts;
    std::vector<VmRow> vms;
    PolicyPtr level, level_def;
};

int load_pool(cpupolicy_store_t *s, const char *name, PoolState &ps)
{
    store::Store &st = *s->st;
    if ( int rc = st.get_pool(name, ps.pool) )
        return store_fail(s, rc);
    if ( int rc = st.hosts_of(ps.pool.id, ps.hosts) )
        return store_fail(s, rc);
    if ( int rc = st.list_vms(ps.pool.id, ps.vms) )
        return store_fail(s, rc);
    std::string why;
    if ( !ps.pool.level_policy.empty() )
    {
        if ( int rc = load(ps.pool.level_policy, ps.level, why, "level of pool " + ps.pool.name) )
            return fail(s, rc, why);
        if ( int rc = load(ps.pool.level_default, ps.level_def, why,
                           "default level of pool " + ps.pool.name) )
            return fail(s, rc, why);
    }
    return 0;
}

} // namespace

// --- The store ----------------------------------------------------------------------------

static int impl_cpupolicy_store_open(cpupolicy_store_t **out, const char *path)
{
    ErrnoGuard g;
    if ( !out )
        return -EINVAL;
    *out = nullptr;
    std::unique_ptr<cpupolicy_store> s(new (std::nothrow) cpupolicy_store);
    if ( !s )
        return -ENOMEM;
    std::string p = path && *path ? path : store::default_path();
    std::string why;
    if ( int rc = store::Store::open(p, s->st, why) )
    {
        abi::detail("%s", why.c_str());
        return rc;
    }
    *out = s.release();
    return 0;
}

static void impl_cpupolicy_store_close(cpupolicy_store_t *s)
{
    ErrnoGuard g;
    delete s;
}

static void impl_cpupolicy_store_set_progress(cpupolicy_store_t *s, cpupolicy_progress_fn fn,
                                              void *arg)
{
    if ( !s )
        return;
    s->progress = fn;
    s->progress_arg = fn ? arg : nullptr;
}

static const char *impl_cpupolicy_store_path(const cpupolicy_store_t *s)
{
    return s ? s->st->path().c_str() : "";
}

static void impl_cpupolicy_json_free(char *j)
{
    ErrnoGuard g;
    free(j);
}

// --- Pools --------------------------------------------------------------------------------

static int impl_cpupolicy_pool_create(cpupolicy_store_t *s, const char *pool,
                                           unsigned int type, char **out)
{
    ErrnoGuard g;
    if ( int rc = begin_call(s, out, {}) )
        return rc;
    if ( bad_name(pool) )
        return fail(s, -EINVAL, "bad pool name: 1-128 printable characters, no ':' or '/'");
    if ( type != CPUPOLICY_DOMAIN_HVM && type != CPUPOLICY_DOMAIN_PV )
        return fail(s, -EINVAL, "bad pool type: hvm or pv");
    store::Store &st = *s->st;
    Txn t(st);
    if ( int rc = st.begin_write() )
        return store_fail(s, rc);
    PoolRow row;
    row.name = pool;
    row.type = type == CPUPOLICY_DOMAIN_PV ? "pv" : "hvm";
    row.created = store::now();
    if ( int rc = st.insert_pool(row) )
        return store_fail(s, rc);
    if ( int rc = add_history(st, row, "create", "", "", json::object()) )
        return store_fail(s, rc);
    if ( int rc = st.update_pool_level(row.id, "", "", row.generation) )
        return store_fail(s, rc);
    if ( int rc = t.commit() )
        return store_fail(s, rc);
    json j = doc("pool-create");
    j["pool"] = json{{"name", row.name}, {"type", row.type}};
    return answer(j, out, 0);
}

static int impl_cpupolicy_pool_join(cpupolicy_store_t *s, const char *pool, const char *uri,
                                         const char *host_name, unsigned int flags, char **out)
{
    ErrnoGuard g;
    if ( int rc = begin_call(s, out, {pool, uri}) )
        return rc;
    store::Store &st = *s->st;
    // The pool type decides which policies to read; read it before reaching the host.
    PoolRow pre;
    if ( int rc = st.get_pool(pool, pre) )
        return store_fail(s, rc);
    const std::string hname = host_name && *host_name ? host_name : name_from_uri(uri);
    if ( bad_name(hname.c_str()) )
        return fail(s, -EINVAL, "bad host name '" + hname + "': give --host-name");
    HostRow row;
    std::string why;
    progress(s, "reading host " + hname + " (" + uri + ")", 0, 1);
    const int read_rc = read_host(uri, pre.type, row, why);
    progress(s, "read host " + hname, 1, 1);
    if ( read_rc )
        return fail(s, read_rc, why);
    row.name = hname;
    row.joined = store::now();

    Txn t(st);
    if ( int rc = st.begin_write() )
        return store_fail(s, rc);
    PoolState ps;
    if ( int rc = load_pool(s, pool, ps) )
        return rc;
    if ( find_host(ps.hosts, hname) )
        return fail(s, -EEXIST, "pool " + ps.pool.name + " has a host named '" + hname +
                                    "' already (pool refresh re-reads it)");
    std::vector<HostRow> members = ps.hosts;
    members.push_back(row);
    Level nl;
    if ( int rc = compute_level(members, nl, why) )
        return fail(s, rc, "host " + hname + " cannot join pool " + ps.pool.name + ": " + why);
    int src = 0;
    json strand = stranded(ps.vms, nl.max.get(), why, src);
    if ( src )
        return fail(s, src, why);
    json j = doc("pool-join");
    j["pool"] = ps.pool.name;
    j["host"] = host_json(row);
    j["level"] = level_change(ps.level.get(), nl.max.get());
    j["stranded"] = strand;
    j["forced"] = (flags & CPUPOLICY_FORCE) != 0;
    if ( !strand.empty() && !(flags & CPUPOLICY_FORCE) )
    {
        j["accepted"] = false;
        s->err = "host " + hname + " would strand " + std::to_string(strand.size()) +
                 " VM(s) in pool " + ps.pool.name + " (use --force to join anyway)";
        return refuse(s, j, out, -EPERM);
    }
    row.pool_id = ps.pool.id;
    std::string lmax, ldef;
    if ( int rc = level_texts(nl, lmax, ldef) )
        return fail(s, rc, "formatting the level");
    if ( int rc = st.insert_host(row) )
        return store_fail(s, rc);
    json detail{{"lost", j["level"]["lost"]}, {"gained", j["level"]["gained"]},
                {"stranded", strand}, {"forced", j["forced"]}};
    if ( int rc = add_history(st, ps.pool, "join", hname, lmax, detail) )
        return store_fail(s, rc);
    if ( int rc = st.update_pool_level(ps.pool.id, lmax, ldef, ps.pool.generation) )
        return store_fail(s, rc);
    test_hold("join");
    if ( int rc = t.commit() )
        return store_fail(s, rc);
    j["accepted"] = true;
    j["generation"] = ps.pool.generation;
    return answer(j, out, 0);
}

static int impl_cpupolicy_pool_eject(cpupolicy_store_t *s, const char *pool,
                                          const char *host, unsigned int flags, char **out)
{
    ErrnoGuard g;
    if ( int rc = begin_call(s, out, {pool, host}) )
        return rc;
    store::Store &st = *s->st;
    Txn t(st);
    if ( int rc = st.begin_write() )
        return store_fail(s, rc);
    PoolState ps;
    if ( int rc = load_pool(s, pool, ps) )
        return rc;
    const HostRow *h = find_host(ps.hosts, host);
    if ( !h )
        return fail(s, -ENOENT, "pool " + ps.pool.name + " has no host named '" + host + "'");
    json on_host = json::array();
    std::vector<int64_t> vm_ids;
    for ( const auto &vm : ps.vms )
        if ( vm.host == host )
        {
            on_host.push_back(vm.name);
            vm_ids.push_back(vm.id);
        }
    std::vector<HostRow> members;
    for ( const auto &m : ps.hosts )
        if ( m.name != host )
            members.push_back(m);
    Level nl;
    std::string why;
    if ( int rc = compute_level(members, nl, why) )
        return fail(s, rc, why);
    json j = doc("pool-eject");
    j["pool"] = ps.pool.name;
    j["host"] = host;
    j["vms_on_host"] = on_host;
    j["forced"] = (flags & CPUPOLICY_FORCE) != 0;
    j["level"] = level_change(ps.level.get(), nl.max.get());
    if ( !on_host.empty() && !(flags & CPUPOLICY_FORCE) )
    {
        j["accepted"] = false;
        s->err = std::to_string(on_host.size()) + " VM(s) run on " + std::string(host) +
                 " (migrate them, or use --force to forget them)";
        return refuse(s, j, out, -EPERM);
    }
    for ( int64_t id : vm_ids )
        if ( int rc = st.delete_vm(id) )
            return store_fail(s, rc);
    if ( int rc = st.delete_host(h->id) )
        return store_fail(s, rc);
    std::string lmax, ldef;
    if ( int rc = level_texts(nl, lmax, ldef) )
        return fail(s, rc, "formatting the level");
    json detail{{"lost", j["level"]["lost"]}, {"gained", j["level"]["gained"]},
                {"forgotten_vms", (flags & CPUPOLICY_FORCE) ? on_host : json::array()}};
    if ( int rc = add_history(st, ps.pool, "eject", host, lmax, detail) )
        return store_fail(s, rc);
    if ( int rc = st.update_pool_level(ps.pool.id, lmax, ldef, ps.pool.generation) )
        return store_fail(s, rc);
    if ( int rc = t.commit() )
        return store_fail(s, rc);
    j["accepted"] = true;
    j["forgotten_vms"] = detail["forgotten_vms"];
    j["generation"] = ps.pool.generation;
    return answer(j, out, 0);
}

static int impl_cpupolicy_pool_refresh(cpupolicy_store_t *s, const char *pool,
                                            const char *host, char **out)
{
    ErrnoGuard g;
    if ( int rc = begin_call(s, out, {pool}) )
        return rc;
    store::Store &st = *s->st;
    // Read the members first (outside the transaction: hosts may be slow), then re-check
    // them inside it.
    PoolState pre;
    if ( int rc = load_pool(s, pool, pre) )
        return rc;
    std::vector<HostRow> fresh;
    std::string why;
    const uint32_t nr_reads = host ? uint32_t(std::count_if(pre.hosts.begin(), pre.hosts.end(),
                                                            [&](const HostRow &h) { return h.name == host; }))
                                   : uint32_t(pre.hosts.size());
    for ( const auto &h : pre.hosts )
    {
        if ( host && h.name != host )
            continue;
        HostRow r = h;
        progress(s, "reading host " + h.name + " (" + h.uri + ")", uint32_t(fresh.size()), nr_reads);
        if ( int rc = read_host(h.uri, pre.pool.type, r, why) )
        {
            progress(s, "stopped", nr_reads, nr_reads);
            return fail(s, rc, "refreshing " + h.name + ": " + why);
        }
        fresh.push_back(r);
    }
    if ( nr_reads )
        progress(s, "read " + std::to_string(nr_reads) + " host(s)", nr_reads, nr_reads);
    if ( host && fresh.empty() )
        return fail(s, -ENOENT, "pool " + pre.pool.name + " has no host named '" + host + "'");

    Txn t(st);
    if ( int rc = st.begin_write() )
        return store_fail(s, rc);
    PoolState ps;
    if ( int rc = load_pool(s, pool, ps) )
        return rc;
    json hosts = json::array();
    std::vector<HostRow> members = ps.hosts;
    for ( const auto &r : fresh )
    {
        auto it = std::find_if(members.begin(), members.end(),
                               [&](const HostRow &m) { return m.id == r.id; });
        if ( it == members.end() )
            continue;  // ejected meanwhile
        PolicyPtr oldp, newp;
        if ( int rc = load(it->max_policy, oldp, why, "max policy of " + it->name) )
            return fail(s, rc, why);
        if ( int rc = load(r.max_policy, newp, why, "max policy of " + r.name) )
            return fail(s, rc, why);
        json ident = json::array();
        auto cmp = [&](const char *f, const json &a, const json &b) {
            if ( a != b )
                ident.push_back(json{{"field", f}, {"old", a}, {"new", b}});
        };
        cmp("vendor", it->vendor, r.vendor);
        cmp("family", it->family, r.family);
        cmp("model", it->model, r.model);
        cmp("stepping", it->stepping, r.stepping);
        cmp("microcode", it->microcode, r.microcode);
        cmp("boot_options", it->boot_options, r.boot_options);
        json hj{{"name", r.name}, {"identity", ident}};
        cpupolicy_report_t *rep = nullptr;
        if ( cpupolicy_compat_report(newp.get(), oldp.get(), &rep) == 0 )
        {
            hj["lost"] = loss_json(*rep, "old", "new");
            cpupolicy_report_free(rep);
        }
        hj["gained"] = names_of(minus(featureset_of(newp.get()), featureset_of(oldp.get())));
        hj["changed"] = it->max_policy != r.max_policy || it->default_policy != r.default_policy ||
                        !ident.empty();
        hosts.push_back(hj);
        HostRow upd = r;
        upd.joined = it->joined;
        *it = upd;
        if ( int rc = st.update_host(upd) )
            return store_fail(s, rc);
    }
    Level nl;
    if ( int rc = compute_level(members, nl, why) )
        return fail(s, rc, why);
    int src = 0;
    json strand = stranded(ps.vms, nl.max.get(), why, src);
    if ( src )
        return fail(s, src, why);
    json j = doc("pool-refresh");
    j["pool"] = ps.pool.name;
    j["hosts"] = hosts;
    j["level"] = level_change(ps.level.get(), nl.max.get());
    j["stranded"] = strand;
    std::string lmax, ldef;
    if ( int rc = level_texts(nl, lmax, ldef) )
        return fail(s, rc, "formatting the level");
    if ( lmax != ps.pool.level_policy || ldef != ps.pool.level_default )
    {
        json detail{{"lost", j["level"]["lost"]}, {"gained", j["level"]["gained"]},
                    {"stranded", strand}};
        if ( int rc = add_history(st, ps.pool, "refresh", host ? host : "", lmax, detail) )
            return store_fail(s, rc);
        if ( int rc = st.update_pool_level(ps.pool.id, lmax, ldef, ps.pool.generation) )
            return store_fail(s, rc);
    }
    if ( int rc = t.commit() )
        return store_fail(s, rc);
    j["generation"] = ps.pool.generation;
    return answer(j, out, 0);
}

static int impl_cpupolicy_pool_show(cpupolicy_store_t *s, const char *pool, char **out)
{
    ErrnoGuard g;
    if ( int rc = begin_call(s, out, {pool}) )
        return rc;
    PoolState ps;
    if ( int rc = load_pool(s, pool, ps) )
        return rc;
    json j = doc("pool-show");
    j["pool"] = json{{"name", ps.pool.name}, {"type", ps.pool.type},
                     {"generation", ps.pool.generation}, {"created", ps.pool.created}};
    j["level"] = ps.level ? json{{"featureset", fs_text(ps.level.get())},
                                 {"features", names_of(featureset_of(ps.level.get()))},
                                 {"default_featureset", fs_text(ps.level_def.get())},
                                 {"fields", numeric_fields_json(ps.level.get())}}
                          : json(nullptr);
    json members = json::array();
    for ( const auto &h : ps.hosts )
    {
        json hj = host_json(h);
        PolicyPtr m;
        std::string why;
        const bool loaded = load(h.max_policy, m, why, "host") == 0;
        if ( loaded )
            hj["fields"] = numeric_fields_json(m.get());
        if ( ps.level && loaded )
        {
            cpupolicy_report_t *r = nullptr;
            if ( cpupolicy_compat_report(ps.level.get(), m.get(), &r) == 0 )
            {
                hj["loses"] = loss_json(*r, "host", "level");
                cpupolicy_report_free(r);
            }
        }
        members.push_back(hj);
    }
    j["members"] = members;
    json vms = json::array();
    for ( const auto &vm : ps.vms )
        vms.push_back(json{{"name", vm.name}, {"host", vm.host}, {"domid", vm.domid}});
    j["vms"] = vms;
    return answer(j, out, 0);
}

static int impl_cpupolicy_pool_list(cpupolicy_store_t *s, char **out)
{
    ErrnoGuard g;
    if ( int rc = begin_call(s, out, {}) )
        return rc;
    std::vector<PoolRow> pools;
    if ( int rc = s->st->list_pools(pools) )
        return store_fail(s, rc);
    json a = json::array();
    for ( const auto &p : pools )
    {
        std::vector<HostRow> hosts;
        std::vector<VmRow> vms;
        if ( int rc = s->st->hosts_of(p.id, hosts) )
            return store_fail(s, rc);
        if ( int rc = s->st->list_vms(p.id, vms) )
            return store_fail(s, rc);
        PolicyPtr l;
        std::string why;
        json fs = nullptr;
        if ( !p.level_policy.empty() && load(p.level_policy, l, why, "level") == 0 )
            fs = fs_text(l.get());
        a.push_back(json{{"name", p.name}, {"type", p.type}, {"nr_hosts", hosts.size()},
                         {"nr_vms", vms.size()}, {"generation", p.generation},
                         {"level_featureset", fs}});
    }
    return answer_list("pool-list", "pools", std::move(a), out);
}

static int impl_cpupolicy_pool_history(cpupolicy_store_t *s, const char *pool, char **out)
{
    ErrnoGuard g;
    if ( int rc = begin_call(s, out, {pool}) )
        return rc;
    PoolRow p;
    if ( int rc = s->st->get_pool(pool, p) )
        return store_fail(s, rc);
    std::vector<HistoryRow> hist;
    if ( int rc = s->st->history(p.id, hist) )
        return store_fail(s, rc);
    json a = json::array();
    for ( const auto &h : hist )
    {
        json fs = nullptr;
        PolicyPtr l;
        std::string why;
        if ( !h.level_policy.empty() && load(h.level_policy, l, why, "level") == 0 )
            fs = fs_text(l.get());
        json detail = json::parse(h.detail, nullptr, false);
        if ( detail.is_discarded() )
            detail = nullptr;
        a.push_back(json{{"seq", h.seq}, {"event", h.event}, {"host", h.host}, {"at", h.at},
                         {"level_featureset", fs}, {"detail", detail}});
    }
    json j = doc("pool-history");
    j["pool"] = p.name;
    j["history"] = a;
    return answer(j, out, 0);
}

static int impl_cpupolicy_pool_get_level(cpupolicy_store_t *s, const char *pool,
                                              int is_default, cpupolicy_t *out)
{
    ErrnoGuard g;
    if ( int rc = begin_call(s, nullptr, {pool, out}) )
        return rc;
    PoolRow p;
    if ( int rc = s->st->get_pool(pool, p) )
        return store_fail(s, rc);
    const std::string &text = is_default ? p.level_default : p.level_policy;
    if ( text.empty() )
        return fail(s, -ENODATA, "pool " + p.name + " has no members, so no level");
    std::string why;
    if ( policy_from_text(out, text, &why) )
        return fail(s, -EIO, "the level of pool " + p.name + " does not parse: " + why);
    return 0;
}

// --- VMs ----------------------------------------------------------------------------------

namespace {

json vm_json(const VmRow &vm)
{
    json j{{"name", vm.name},         {"pool", vm.pool},   {"host", vm.host},
           {"host_uri", vm.host_uri}, {"domid", vm.domid}, {"created", vm.created}};
    PolicyPtr p = new_policy();
    if ( p && policy_from_text(p.get(), vm.policy) == 0 )
        j["featureset"] = fs_text(p.get());
    json cfg = json::parse(vm.config, nullptr, false);
    j["config"] = cfg.is_discarded() ? json(nullptr) : cfg;
    return j;
}

int destroy_domain(const std::string &uri, uint32_t domid, std::string &why)
{
    HandlePtr h;
    if ( int rc = open_host(uri, h, why) )
        return rc;
    int rc = cpupolicy_domain_destroy(h.get(), domid);
    if ( rc == -ESRCH )
        return 0;  // gone already (a sim: host's domains live as long as its process)
    if ( rc )
        why = "destroying domain " + std::to_string(domid) + " on " + uri + ": " + strerror(-rc);
    return rc;
}

} // namespace

static int impl_cpupolicy_vm_create(cpupolicy_store_t *s, const cpupolicy_vm_config_t *cfg,
                                         char **out)
{
    ErrnoGuard g;
    if ( out )
        *out = nullptr;
    if ( !s || !cfg || !cfg->pool || !cfg->host || (cfg->nr_cpuid && !cfg->cpuid) )
        return -EINVAL;
    s->err.clear();
    if ( bad_name(cfg->name) )
        return fail(s, -EINVAL, "bad VM name: 1-128 printable characters, no ':' or '/'");
    store::Store &st = *s->st;
    PoolState ps;
    if ( int rc = load_pool(s, cfg->pool, ps) )
        return rc;
    const HostRow *h = find_host(ps.hosts, cfg->host);
    if ( !h )
        return fail(s, -ENOENT, "pool " + ps.pool.name + " has no host named '" + cfg->host + "'");
    VmRow existing;
    if ( st.get_vm(cfg->name, existing) == 0 )
        return fail(s, -EEXIST, "a VM named '" + std::string(cfg->name) + "' exists already");
    std::string why;
    PolicyPtr hmax, pol = new_policy();
    if ( int rc = load(h->max_policy, hmax, why, "max policy of " + h->name) )
        return fail(s, rc, why);
    if ( !pol )
        return -ENOMEM;

    // The base: the level's default policy, then the named model (cpupolicy_models.h)
    // applied to it - our own models first, then libvirt's CPU map where installed.
    PolicyPtr base = new_policy();
    if ( !base )
        return -ENOMEM;
    *base = *ps.level_def;
    json model_changes = json::array();
    if ( cfg->model && *cfg->model )
    {
        cpupolicy_models_t *m = nullptr;
        uint32_t idx = 0;
        int mrc = cpupolicy_models_load(&m, CPUPOLICY_MODELS_ALL, nullptr, nullptr);
        if ( mrc )
            mrc = cpupolicy_models_load(&m, CPUPOLICY_MODELS_BUILTIN, nullptr, nullptr);
        if ( mrc )
            return fail(s, mrc, std::string("--model ") + cfg->model + ": cannot load the CPU models: " +
                                    cpupolicy_last_error());
        std::unique_ptr<cpupolicy_models_t, void (*)(cpupolicy_models_t *)> keep(m, cpupolicy_models_free);
        if ( (mrc = cpupolicy_models_find(m, cfg->model, CPUPOLICY_MODELS_ALL, &idx)) )
            return fail(s, mrc, std::string("--model ") + cfg->model + ": no such model (cpupolicy model list)");
        if ( (mrc = cpupolicy_model_apply(m, idx, base.get())) )
            return fail(s, mrc, std::string("--model ") + cfg->model + ": " + cpupolicy_last_error());
        const std::vector<uint32_t> before = featureset_of(ps.level_def.get()), after = featureset_of(base.get());
        for ( const auto &n : feature_names(minus(before, after)) )
            model_changes.push_back(json{{"feature", n}, {"set", false}, {"named", true},
                                         {"cause", std::string("model ") + cfg->model}});
        for ( const auto &n : feature_names(minus(after, before)) )
            model_changes.push_back(json{{"feature", n}, {"set", true}, {"named", true},
                                         {"cause", std::string("model ") + cfg->model}});
    }
    cpupolicy_vm_spec_t spec{base.get(), hmax.get(), ps.level.get(), cfg->cpuid,
                             cfg->nr_cpuid, cfg->features};
    BuildImpl rep;
    cpupolicy_parse_error_t perr{};
    int rc = vm_build(pol.get(), spec, rep, &perr);
    json cpuids = json::array();
    for ( uint32_t i = 0; i < cfg->nr_cpuid; ++i )
        cpuids.push_back(cfg->cpuid[i] ? cfg->cpuid[i] : "");
    json config{{"cpuid", cpuids},
                {"features", cfg->features ? cfg->features : ""},
                {"model", cfg->model && *cfg->model ? json(cfg->model) : json(nullptr)}};
    json j = doc("vm-create");
    j["vm"] = cfg->name;
    j["pool"] = ps.pool.name;
    j["host"] = h->name;
    j["config"] = config;
    if ( rc == -EINVAL )
    {
        const std::string src = perr.item < cfg->nr_cpuid ? "--cpuid '" + std::string(cfg->cpuid[perr.item]) + "'"
                                                          : "--features '" + std::string(cfg->features ? cfg->features : "") + "'";
        j["error"] = json{{"input", perr.item < cfg->nr_cpuid ? "cpuid" : "features"},
                          {"index", perr.item},
                          {"column", perr.column},
                          {"what", perr.what}};
        s->err = src + ", column " + std::to_string(perr.column) + ": " + perr.what;
        j["created"] = false;
        return refuse(s, j, out, -EINVAL);
    }
    json changes = model_changes;
    for ( uint32_t i = 0; i < rep.nr_changes; ++i )
    {
        const auto &c = rep.changes[i];
        changes.push_back(json{{"feature", c.name}, {"set", bool(c.set)}, {"named", bool(c.named)},
                               {"cause", c.cause}});
    }
    json blockers = json::array();
    for ( uint32_t i = 0; i < rep.nr_blockers; ++i )
        blockers.push_back(item_json(rep.blockers[i], "vm", "max"));
    j["changes"] = changes;
    j["blockers"] = blockers;
    if ( rc == -EPERM )
    {
        s->err = std::to_string(rep.nr_blockers) + " blocker(s): VM " + cfg->name +
                 " cannot run on " + h->name + " in pool " + ps.pool.name + "; nothing created";
        j["created"] = false;
        return refuse(s, j, out, -EPERM);
    }
    if ( rc )
        return fail(s, rc, "building the policy");

    // Create on the host, policy set before start.
    HandlePtr hh;
    if ( int e = open_host(h->uri, hh, why) )
        return fail(s, e, why);
    uint32_t domid = NONE;
    const unsigned type = ps.pool.type == "pv" ? CPUPOLICY_DOMAIN_PV : CPUPOLICY_DOMAIN_HVM;
    if ( int e = cpupolicy_domain_create(hh.get(), type, &domid) )
        return fail(s, e, "creating the domain on " + h->name + ": " + strerror(-e));
    cpupolicy_err_t err;
    int e = cpupolicy_set_domain_policy(hh.get(), domid, pol.get(), &err);
    if ( e == 0 )
        e = cpupolicy_domain_start(hh.get(), domid);
    VmRow row;
    row.name = cfg->name;
    row.pool_id = ps.pool.id;
    row.host = h->name;
    row.host_uri = h->uri;
    row.domid = domid;
    row.config = config.dump();
    row.created = store::now();
    if ( e == 0 )
        e = policy_to_text(pol.get(), row.policy);
    if ( e == 0 )
    {
        Txn t(st);
        e = st.begin_write();
        // The VM was verified against the level read before the domain was made; a join
        // or refresh committed since may have changed it.
        PoolRow now;
        if ( e == 0 && (e = st.get_pool(ps.pool.name, now)) == 0 && now.generation != ps.pool.generation )
        {
            e = -EAGAIN;
            why = "pool " + ps.pool.name + " changed while VM " + row.name +
                  " was being created (level generation " + std::to_string(ps.pool.generation) +
                  " -> " + std::to_string(now.generation) + "); nothing created, try again";
        }
        if ( e == 0 )
            e = st.insert_vm(row);
        if ( e == 0 )
            e = t.commit();
        if ( e && why.empty() )
            why = st.error();
    }
    else
        why = "setting the policy of domain " + std::to_string(domid) + " on " + h->name + ": " +
              strerror(-e) + (err.leaf != NONE || err.msr != NONE
                                  ? " (leaf " + std::to_string(err.leaf) + ", MSR " + std::to_string(err.msr) + ")"
                                  : "");
    if ( e )
    {
        (void)cpupolicy_domain_destroy(hh.get(), domid);  // undo: nothing half-done
        return fail(s, e, why);
    }
    j["created"] = true;
    j["domid"] = domid;
    j["featureset"] = fs_text(pol.get());
    return answer(j, out, 0);
}

static int impl_cpupolicy_vm_show(cpupolicy_store_t *s, const char *vm, char **out)
{
    ErrnoGuard g;
    if ( int rc = begin_call(s, out, {vm}) )
        return rc;
    VmRow row;
    if ( int rc = s->st->get_vm(vm, row) )
        return store_fail(s, rc);
    json j = doc("vm-show");
    j["vm"] = vm_json(row);
    PolicyPtr p = new_policy();
    if ( p && policy_from_text(p.get(), row.policy) == 0 )
        j["vm"]["features"] = names_of(featureset_of(p.get()));
    return answer(j, out, 0);
}

static int impl_cpupolicy_vm_list(cpupolicy_store_t *s, const char *pool, char **out)
{
    ErrnoGuard g;
    if ( int rc = begin_call(s, out, {}) )
        return rc;
    int64_t pid = 0;
    if ( pool )
    {
        PoolRow p;
        if ( int rc = s->st->get_pool(pool, p) )
            return store_fail(s, rc);
        pid = p.id;
    }
    std::vector<VmRow> vms;
    if ( int rc = s->st->list_vms(pid, vms) )
        return store_fail(s, rc);
    json a = json::array();
    for ( const auto &v : vms )
        a.push_back(vm_json(v));
    return answer_list("vm-list", "vms", std::move(a), out);
}

static int impl_cpupolicy_vm_destroy(cpupolicy_store_t *s, const char *vm, char **out)
{
    ErrnoGuard g;
    if ( int rc = begin_call(s, out, {vm}) )
        return rc;
    VmRow row;
    if ( int rc = s->st->get_vm(vm, row) )
        return store_fail(s, rc);
    std::string why;
    if ( int rc = destroy_domain(row.host_uri, row.domid, why) )
        return fail(s, rc, why);
    Txn t(*s->st);
    if ( int rc = s->st->begin_write() )
        return store_fail(s, rc);
    if ( int rc = s->st->delete_vm(row.id) )
        return store_fail(s, rc);
    if ( int rc = t.commit() )
        return store_fail(s, rc);
    json j = doc("vm-destroy");
    j["vm"] = row.name;
    j["host"] = row.host;
    j["domid"] = row.domid;
    return answer(j, out, 0);
}

static int impl_cpupolicy_vm_get_policy(cpupolicy_store_t *s, const char *vm, cpupolicy_t *out)
{
    ErrnoGuard g;
    if ( int rc = begin_call(s, nullptr, {vm, out}) )
        return rc;
    VmRow row;
    if ( int rc = s->st->get_vm(vm, row) )
        return store_fail(s, rc);
    std::string why;
    if ( policy_from_text(out, row.policy, &why) )
        return fail(s, -EIO, "the policy of VM " + row.name + " does not parse: " + why);
    return 0;
}

namespace {

// The verdict of moving vm to host `to` of its pool: 0 compatible, 1 not, <0 error.
int migrate_verdict(cpupolicy_store_t *s, const char *vm, const char *to, VmRow &row,
                    HostRow &target, json &j)
{
    if ( int rc = s->st->get_vm(vm, row) )
        return store_fail(s, rc);
    PoolState ps;
    if ( row.pool.empty() )
        return fail(s, -EINVAL, "VM " + row.name + " is in no pool");
    if ( int rc = load_pool(s, row.pool.c_str(), ps) )
        return rc;
    const HostRow *h = find_host(ps.hosts, to);
    if ( !h )
        return fail(s, -ENOENT, "pool " + ps.pool.name + " has no host named '" + to + "'");
    if ( h->name == row.host )
        return fail(s, -EINVAL, "VM " + row.name + " runs on " + h->name + " already");
    target = *h;
    PolicyPtr vp, hp;
    std::string why;
    if ( int rc = load(row.policy, vp, why, "policy of VM " + row.name) )
        return fail(s, rc, why);
    if ( int rc = load(h->max_policy, hp, why, "max policy of " + h->name) )
        return fail(s, rc, why);
    cpupolicy_report_t *r = nullptr;
    if ( int rc = cpupolicy_compat_report(hp.get(), vp.get(), &r) )
        return fail(s, rc, "");
    ReportPtr rp(r);
    j["vm"] = row.name;
    j["pool"] = row.pool;
    j["from"] = row.host;
    j["to"] = h->name;
    j["verdict"] = verdict_json(*r);
    return r->compatible ? 0 : 1;
}

} // namespace

static int impl_cpupolicy_vm_migrate_check(cpupolicy_store_t *s, const char *vm,
                                                const char *host, char **out)
{
    ErrnoGuard g;
    if ( int rc = begin_call(s, out, {vm, host}) )
        return rc;
    VmRow row;
    HostRow target;
    json j = doc("vm-migrate-check");
    int rc = migrate_verdict(s, vm, host, row, target, j);
    if ( rc < 0 )
        return rc;
    return answer(j, out, rc);
}

static int impl_cpupolicy_vm_migrate(cpupolicy_store_t *s, const char *vm, const char *host,
                                          char **out)
{
    ErrnoGuard g;
    if ( int rc = begin_call(s, out, {vm, host}) )
        return rc;
    VmRow row;
    HostRow target;
    json j = doc("vm-migrate");
    int rc = migrate_verdict(s, vm, host, row, target, j);
    if ( rc < 0 )
        return rc;
    j["migrated"] = false;
    if ( rc == 1 )
    {
        s->err = "VM " + row.name + " cannot move to " + target.name + " (see the verdict)";
        return refuse(s, j, out, -EPERM);
    }
    PolicyPtr vp;
    std::string why;
    if ( int e = load(row.policy, vp, why, "policy of VM " + row.name) )
        return fail(s, e, why);

    // 1. The destination: create, set the policy before start, start.
    HandlePtr th;
    if ( int e = open_host(target.uri, th, why) )
    {
        j["failed_step"] = "reach destination";
        s->err = why + "; nothing changed, the VM stays on " + row.host;
        return refuse(s, j, out, e);
    }
    uint32_t domid = NONE;
    const unsigned type = row.pool.empty() ? CPUPOLICY_DOMAIN_HVM : [&] {
        PoolRow p;
        return s->st->get_pool(row.pool, p) == 0 && p.type == "pv" ? CPUPOLICY_DOMAIN_PV
                                                                    : CPUPOLICY_DOMAIN_HVM;
    }();
    const char *step = "create domain on destination";
    int e = cpupolicy_domain_create(th.get(), type, &domid);
    cpupolicy_err_t err;
    if ( e == 0 )
    {
        step = "set policy on destination";
        e = cpupolicy_set_domain_policy(th.get(), domid, vp.get(), &err);
    }
    if ( e == 0 )
    {
        step = "start domain on destination";
        e = cpupolicy_domain_start(th.get(), domid);
    }
    // 2. The store, then the source: the record moves in one transaction that commits
    //    only once the source domain is gone.
    Txn t(*s->st);
    if ( e == 0 )
    {
        step = "update the store";
        e = s->st->begin_write();
        if ( e == 0 )
            e = s->st->update_vm_placement(row.id, target.name, target.uri, domid);
        if ( e )
            why = s->st->error();
    }
    if ( e == 0 )
    {
        step = "destroy domain on source";
        e = destroy_domain(row.host_uri, row.domid, why);
    }
    if ( e == 0 )
    {
        step = "commit the store";
        e = t.commit();
        if ( e )
            why = s->st->error();
    }
    if ( e )
    {
        if ( s->st->in_transaction() )
            s->st->rollback();
        j["failed_step"] = step;
        if ( !strcmp(step, "commit the store") )
        {
            // The source is gone already: keep the destination running and say so.
            s->err = "VM " + row.name + " now runs on " + target.name + " as domain " +
                     std::to_string(domid) + " but the store could not record it: " + why;
            return refuse(s, j, out, e);
        }
        if ( domid != NONE )
            (void)cpupolicy_domain_destroy(th.get(), domid);
        s->err = std::string("migration of ") + row.name + " to " + target.name + " failed at '" +
                 step + "'" + (why.empty() ? ": " + std::string(strerror(-e)) : ": " + why) +
                 "; undone, the VM stays on " + row.host;
        return refuse(s, j, out, e);
    }
    j["migrated"] = true;
    j["domid"] = domid;
    return answer(j, out, 0);
}

// --- ABI boundary: noexcept, cpupolicy_last_error() (api.hpp, Call) ---------------------

CPUPOLICY_EXPORT int cpupolicy_store_open(cpupolicy_store_t **out, const char *path) noexcept
{
    abi::Call c("cpupolicy_store_open");
    return c.done(impl_cpupolicy_store_open(out, path));
}

CPUPOLICY_EXPORT void cpupolicy_store_close(cpupolicy_store_t *s) noexcept
{
    impl_cpupolicy_store_close(s);
}

CPUPOLICY_EXPORT const char *cpupolicy_store_path(const cpupolicy_store_t *s) noexcept
{
    return impl_cpupolicy_store_path(s);
}

CPUPOLICY_EXPORT void cpupolicy_store_set_progress(cpupolicy_store_t *s, cpupolicy_progress_fn fn,
                                                   void *arg) noexcept
{
    impl_cpupolicy_store_set_progress(s, fn, arg);
}

CPUPOLICY_EXPORT void cpupolicy_json_free(char *j) noexcept
{
    impl_cpupolicy_json_free(j);
}

CPUPOLICY_EXPORT int cpupolicy_pool_create(cpupolicy_store_t *s, const char *pool,
                                           unsigned int type, char **out) noexcept
{
    abi::Call c("cpupolicy_pool_create");
    return c.done(impl_cpupolicy_pool_create(s, pool, type, out));
}

CPUPOLICY_EXPORT int cpupolicy_pool_join(cpupolicy_store_t *s, const char *pool, const char *uri,
                                         const char *host_name, unsigned int flags, char **out) noexcept
{
    abi::Call c("cpupolicy_pool_join");
    return c.done(impl_cpupolicy_pool_join(s, pool, uri, host_name, flags, out));
}

CPUPOLICY_EXPORT int cpupolicy_pool_eject(cpupolicy_store_t *s, const char *pool,
                                          const char *host, unsigned int flags, char **out) noexcept
{
    abi::Call c("cpupolicy_pool_eject");
    return c.done(impl_cpupolicy_pool_eject(s, pool, host, flags, out));
}

CPUPOLICY_EXPORT int cpupolicy_pool_refresh(cpupolicy_store_t *s, const char *pool,
                                            const char *host, char **out) noexcept
{
    abi::Call c("cpupolicy_pool_refresh");
    return c.done(impl_cpupolicy_pool_refresh(s, pool, host, out));
}

CPUPOLICY_EXPORT int cpupolicy_pool_show(cpupolicy_store_t *s, const char *pool, char **out) noexcept
{
    abi::Call c("cpupolicy_pool_show");
    return c.done(impl_cpupolicy_pool_show(s, pool, out));
}

CPUPOLICY_EXPORT int cpupolicy_pool_list(cpupolicy_store_t *s, char **out) noexcept
{
    abi::Call c("cpupolicy_pool_list");
    return c.done(impl_cpupolicy_pool_list(s, out));
}

CPUPOLICY_EXPORT int cpupolicy_pool_history(cpupolicy_store_t *s, const char *pool, char **out) noexcept
{
    abi::Call c("cpupolicy_pool_history");
    return c.done(impl_cpupolicy_pool_history(s, pool, out));
}

CPUPOLICY_EXPORT int cpupolicy_pool_get_level(cpupolicy_store_t *s, const char *pool,
                                              int is_default, cpupolicy_t *out) noexcept
{
    abi::Call c("cpupolicy_pool_get_level");
    return c.done(impl_cpupolicy_pool_get_level(s, pool, is_default, out));
}

CPUPOLICY_EXPORT int cpupolicy_vm_create(cpupolicy_store_t *s, const cpupolicy_vm_config_t *cfg,
                                         char **out) noexcept
{
    abi::Call c("cpupolicy_vm_create");
    return c.done(impl_cpupolicy_vm_create(s, cfg, out));
}

CPUPOLICY_EXPORT int cpupolicy_vm_show(cpupolicy_store_t *s, const char *vm, char **out) noexcept
{
    abi::Call c("cpupolicy_vm_show");
    return c.done(impl_cpupolicy_vm_show(s, vm, out));
}

CPUPOLICY_EXPORT int cpupolicy_vm_list(cpupolicy_store_t *s, const char *pool, char **out) noexcept
{
    abi::Call c("cpupolicy_vm_list");
    return c.done(impl_cpupolicy_vm_list(s, pool, out));
}

CPUPOLICY_EXPORT int cpupolicy_vm_destroy(cpupolicy_store_t *s, const char *vm, char **out) noexcept
{
    abi::Call c("cpupolicy_vm_destroy");
    return c.done(impl_cpupolicy_vm_destroy(s, vm, out));
}

CPUPOLICY_EXPORT int cpupolicy_vm_get_policy(cpupolicy_store_t *s, const char *vm, cpupolicy_t *out) noexcept
{
    abi::Call c("cpupolicy_vm_get_policy");
    return c.done(impl_cpupolicy_vm_get_policy(s, vm, out));
}

CPUPOLICY_EXPORT int cpupolicy_vm_migrate_check(cpupolicy_store_t *s, const char *vm,
                                                const char *host, char **out) noexcept
{
    abi::Call c("cpupolicy_vm_migrate_check");
    return c.done(impl_cpupolicy_vm_migrate_check(s, vm, host, out));
}

CPUPOLICY_EXPORT int cpupolicy_vm_migrate(cpupolicy_store_t *s, const char *vm, const char *host,
                                          char **out) noexcept
{
    abi::Call c("cpupolicy_vm_migrate");
    return c.done(impl_cpupolicy_vm_migrate(s, vm, host, out));
}
