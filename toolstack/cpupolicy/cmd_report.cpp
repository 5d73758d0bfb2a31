// SPDX-License-Identifier: MIT
// cpupolicy pool report NAME --html FILE (docs/toolstack.md, "The pool report"): one
// self-contained HTML page of a pool, built from the library's documents only -
// cpupolicy_pool_show() (members, their featuresets and numeric fields, the level, the
// VMs) and cpupolicy_vm_migrate_check() for every VM and every other member (the verdict
// `vm migrate-check` prints).  No scripts, fonts or images: nothing to fetch; every
// piece of text from the store is escaped.
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "cmd_toolstack.hpp"

namespace cpupolicy::cmd {

namespace {

// Text into HTML element content or a quoted attribute value.
std::string esc(const std::string &s)
{
    std::string o;
    o.reserve(s.size());
    for ( char ch : s )
        switch ( ch ) {
        case '&': o += "&amp;"; break;
        case '<': o += "&lt;"; break;
        case '>': o += "&gt;"; break;
        case '"': o += "&quot;"; break;
        case '\'': o += "&#39;"; break;
        default: o += ch;
        }
    return o;
}

std::string esc(const json &j)
{
    return esc(str(j));
}

// Where a feature stands on one host, against the pool level and the other members.
enum class Mark { level, beyond, lacks, level_or, none };

struct MarkStyle {
    const char *cls, *symbol, *meaning;
};

// Colour and symbol both, so the page reads in grey too.
const MarkStyle mark_styles[] = {
    {"lv", "&#x25CF;", "in the pool level, and the host has it"},
    {"by", "+", "the host has it beyond the pool level"},
    {"lk", "&#x2212;", "the host lacks it (another member has it)"},
    {"or", "&#x25CB;", "in the pool level although the host lacks it (levelled by OR: "
                       "the guest is told the worst any member may do)"},
};

const char *const style_sheet =
    "body{font:14px/1.4 sans-serif;margin:1.5em;color:#111;background:#fff}"
    "h1{font-size:1.6em;margin:0 0 .3em}h2{font-size:1.25em;margin:1.6em 0 .4em}"
    "table{border-collapse:collapse;margin:.4em 0}"
    "th,td{border:1px solid #bbb;padding:2px 6px;text-align:left;vertical-align:top}"
    "thead th{background:#eee;position:sticky;top:0}"
    "th.word{background:#f4f4f4;font-weight:bold;text-align:left}"
    "td.m{text-align:center;font-weight:bold;min-width:2.2em}"
    "td.num{text-align:right;font-family:monospace}"
    "code{font-family:monospace;word-break:break-all}"
    ".lv{background:#cdeccd;color:#174d17}.by{background:#c9dcff;color:#0b3276}"
    ".lk{background:#f7cccc;color:#7a1010}.or{background:#fbeab0;color:#5c4500}"
    ".yes{background:#cdeccd}.no{background:#f7cccc}.here{background:#eee;color:#555}"
    ".diff{background:#c9dcff}"
    ".cols{display:flex;flex-wrap:wrap;gap:0 2.5em;align-items:flex-start}"
    ".side{position:sticky;top:0}"
    ".legend td{border:none;padding:2px 8px 2px 0}.small{font-size:.85em;color:#333}";

std::vector<uint32_t> parse_fs(const json &hex, uint32_t nr_words)
{
    std::vector<uint32_t> fs(nr_words, 0);
    uint32_t nr = nr_words;
    const std::string s = hex.is_string() ? hex.get<std::string>() : "";
    if ( cpupolicy_featureset_parse(s.c_str(), fs.data(), &nr, nullptr) )
        std::fill(fs.begin(), fs.end(), 0);
    return fs;
}

bool has(const std::vector<uint32_t> &fs, uint32_t f)
{
    return f / 32 < fs.size() && (fs[f / 32] >> (f % 32) & 1);
}

std::string num(uint64_t v, bool as_hex)
{
    char b[32];
    snprintf(b, sizeof(b), as_hex ? "%#" PRIx64 : "%" PRIu64, v);
    return b;
}

std::string where_text(const json &f)
{
    if ( f["leaf"].is_null() )
        return "";
    std::string s = num(f["leaf"].get<uint64_t>(), true);
    if ( !f["subleaf"].is_null() )
        s += ":" + std::to_string(f["subleaf"].get<uint64_t>());
    return s;
}

// One member's verdict for one VM: blockers as words (features, then fields).
struct Verdict {
    bool here = false, compatible = false;
    std::vector<std::string> features;
    std::vector<std::string> fields;
};

struct Report {
    json show;
    std::vector<std::vector<Verdict>> moves;  // [vm][member]
};

int collect(cpupolicy_store_t *s, const char *pool, Report &r, Progress &progress)
{
    char *doc = nullptr;
    int rc = cpupolicy_pool_show(s, pool, &doc);
    std::unique_ptr<char, void (*)(char *)> keep(doc, cpupolicy_json_free);
    if ( rc < 0 || !doc )
    {
        const char *why = cpupolicy_last_error();
        fprintf(stderr, "cpupolicy: pool report: %s\n", why && *why ? why : strerror(-rc));
        return exit_usage;
    }
    r.show = json::parse(doc, nullptr, false);
    if ( r.show.is_discarded() )
    {
        fprintf(stderr, "cpupolicy: pool report: the library's pool-show document does not parse\n");
        return exit_usage;
    }
    json &members = r.show["members"];
    const uint32_t nr_checks = uint32_t(r.show["vms"].size() * members.size());
    uint32_t nr_done = 0;
    for ( auto &vm : r.show["vms"] )
    {
        std::vector<Verdict> row;
        for ( auto &m : members )
        {
            Verdict v;
            ++nr_done;
            if ( str(m["name"]) == str(vm["host"]) )
            {
                v.here = true;
                row.push_back(v);
                continue;
            }
            const std::string step = "migrate-check " + str(vm["name"]) + " -> " + str(m["name"]);
            progress.show(step.c_str(), nr_done, nr_checks);
            char *vd = nullptr;
            const int crc = cpupolicy_vm_migrate_check(s, str(vm["name"]).c_str(),
                                                       str(m["name"]).c_str(), &vd);
            std::unique_ptr<char, void (*)(char *)> keep_vd(vd, cpupolicy_json_free);
            if ( crc < 0 || !vd )
            {
                progress.clear();
                const char *why = cpupolicy_last_error();
                fprintf(stderr, "cpupolicy: pool report: migrate-check of VM %s to %s: %s\n",
                        str(vm["name"]).c_str(), str(m["name"]).c_str(),
                        why && *why ? why : strerror(-crc));
                return exit_usage;
            }
            json j = json::parse(vd, nullptr, false);
            if ( j.is_discarded() )
            {
                progress.clear();
                fprintf(stderr, "cpupolicy: pool report: migrate-check document of VM %s "
                                "does not parse\n", str(vm["name"]).c_str());
                return exit_usage;
            }
            json &ver = j["verdict"];
            v.compatible = crc == 0;
            for ( auto &f : ver["missing_features"] )
                v.features.push_back(str(f));
            for ( auto &f : ver["fields"] )
                v.fields.push_back(str(f["name"]) + " " + str(f["guest"]) + " > " + str(f["host"]));
            row.push_back(std::move(v));
        }
        r.moves.push_back(std::move(row));
    }
    return exit_ok;
}

// The page, section by section, over what every section needs: the members'
// featuresets, the level's, and their union.
class Page {
public:
    explicit Page(const Report &r)
        : r_(r), show(r.show), members(show["members"]), level(show["level"]),
          nr_words(cpupolicy_featureset_size()), nr_hosts(members.size()),
          lv(level.is_null() ? std::vector<uint32_t>(nr_words, 0) : parse_fs(level["featureset"], nr_words)),
          any(nr_words, 0)
    {
        for ( auto &m : members )
            fs.push_back(parse_fs(m["featureset"], nr_words));
        for ( auto &f : fs )
            for ( uint32_t w = 0; w < nr_words; ++w )
                any[w] |= f[w];
    }

    void render(std::string &h) const
    {
        head(h);
        hosts(h);
        vms(h);
        h += "<div class=\"cols\">\n<section>\n";
        matrix(h);
        h += "</section>\n<section class=\"side\">\n";
        fields(h);
        h += "</section>\n</div>\n";
        h += "<p class=\"small\">Written by cpupolicy pool report from the store's pool-show "
             "document.</p>\n</body>\n</html>\n";
    }

private:
    const Report &r_;
    const json &show, &members, &level;
    const uint32_t nr_words;
    const size_t nr_hosts;
    const std::vector<uint32_t> lv;
    std::vector<uint32_t> any;
    std::vector<std::vector<uint32_t>> fs;

    Mark mark_of(size_t host, uint32_t f) const
    {
        const bool in_level = has(lv, f), here = has(fs[host], f);
        if ( in_level )
            return here ? Mark::level : Mark::level_or;
        return here ? Mark::beyond : Mark::lacks;
    }

    // Features some member has or the level offers: the rows of the matrix.
    bool listed(uint32_t f) const
    {
        return has(any, f) || has(lv, f);
    }

    void head(std::string &h) const
    {
        const std::string pool = str(show["pool"]["name"]);
        h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
             "<meta name=\"viewport\" content=\"width=device-width\">\n";
        h += "<title>cpupolicy pool " + esc(pool) + "</title>\n";
        h += "<style>" + std::string(style_sheet) + "</style>\n</head>\n<body>\n";
        h += "<h1>Pool " + esc(pool) + "</h1>\n<p>" + esc(show["pool"]["type"]) + " pool, generation " +
             esc(show["pool"]["generation"]) + ", " + std::to_string(nr_hosts) + " host(s), " +
             std::to_string(show["vms"].size()) + " VM(s).</p>\n";
        if ( !level.is_null() )
            h += "<p>Pool level (max) featureset: <code>" + esc(level["featureset"]) +
                 "</code><br>Pool level default: <code>" + esc(level["default_featureset"]) +
                 "</code></p>\n";
        else
            h += "<p>The pool has no members yet: no level.</p>\n";
    }

    void hosts(std::string &h) const
    {
        h += "<h2 id=\"hosts\">Hosts</h2>\n<table>\n<thead><tr><th>host</th><th>URI</th><th>vendor</th>"
             "<th>family</th><th>model</th><th>stepping</th><th>boot options</th>"
             "<th>features</th><th>beyond the level</th><th>lacking</th></tr></thead>\n<tbody>\n";
        for ( size_t i = 0; i < nr_hosts; ++i )
        {
            const json &m = members[i];
            unsigned n_has = 0, n_beyond = 0, n_lacks = 0;
            for ( uint32_t f = 0; f < nr_words * 32; ++f )
            {
                if ( !listed(f) )
                    continue;
                const Mark k = mark_of(i, f);
                n_has += has(fs[i], f);
                n_beyond += k == Mark::beyond;
                n_lacks += k == Mark::lacks || k == Mark::level_or;
            }
            h += "<tr><th>" + esc(m["name"]) + "</th><td><code>" + esc(m["uri"]) + "</code></td><td>" +
                 esc(m["vendor"]) + "</td><td>" + esc(m["family"]) + "</td><td>" + esc(m["model"]) +
                 "</td><td>" + esc(m["stepping"]) + "</td><td>" + esc(m["boot_options"]) +
                 "</td><td class=\"num\">" + std::to_string(n_has) + "</td><td class=\"num\">" +
                 std::to_string(n_beyond) + "</td><td class=\"num\">" + std::to_string(n_lacks) +
                 "</td></tr>\n";
        }
        h += "</tbody>\n</table>\n";
    }

    void matrix(std::string &h) const
    {
        h += "<h2 id=\"features\">Features by featureset word</h2>\n<table class=\"legend\">\n";
        for ( const MarkStyle &s : mark_styles )
            h += std::string("<tr><td class=\"m ") + s.cls + "\">" + s.symbol + "</td><td>" + s.meaning +
                 "</td></tr>\n";
        h += "</table>\n<p class=\"small\">Lacking is relative to the union of the members' "
             "features. Features no member has are not listed.</p>\n";

        // The matrix: features (rows, grouped by word) by hosts (columns), the level last.
        h += "<table class=\"matrix\">\n<thead><tr><th>feature</th>";
        for ( auto &m : members )
            h += "<th>" + esc(m["name"]) + "</th>";
        h += "<th>pool level</th></tr></thead>\n";
        for ( uint32_t w = 0; w < nr_words; ++w )
        {
            if ( !any[w] && !lv[w] )
                continue;
            h += "<tbody>\n<tr><th class=\"word\" colspan=\"" + std::to_string(nr_hosts + 2) + "\">" +
                 esc(word_label(w)) + " (word " + std::to_string(w) + ")</th></tr>\n";
            for ( uint32_t b = 0; b < 32; ++b )
            {
                const uint32_t f = w * 32 + b;
                if ( !listed(f) )
                    continue;
                const char *name = cpupolicy_feature_name(f);
                h += "<tr><td>" + esc(name ? name : "<" + std::to_string(f) + ">") + "</td>";
                for ( size_t i = 0; i < nr_hosts; ++i )
                {
                    const MarkStyle &s = mark_styles[size_t(mark_of(i, f))];
                    h += std::string("<td class=\"m ") + s.cls + "\" title=\"" + s.meaning + "\">" +
                         s.symbol + "</td>";
                }
                h += has(lv, f) ? "<td class=\"m lv\">&#x25CF;</td>" : "<td class=\"m\"></td>";
                h += "</tr>\n";
            }
            h += "</tbody>\n";
        }
        h += "</table>\n";
    }

    void fields(std::string &h) const
    {
        // Numeric fields, beside: every field the complete report compares, by member.
        h += "<h2 id=\"fields\">Numeric fields</h2>\n<p class=\"small\">What the compatibility "
             "report compares besides features: a guest's value must be at most the host's "
             "(bit fields: within the host's). Blue: above the pool level. Fields zero "
             "everywhere are not listed.</p>\n<table>\n<thead><tr><th>field</th><th>leaf</th>";
        for ( auto &m : members )
            h += "<th>" + esc(m["name"]) + "</th>";
        h += "<th>pool level</th></tr></thead>\n<tbody>\n";
        const json none = json::array();
        const json &lf = level.is_null() || !level.contains("fields") ? none : level["fields"];
        const json &names = lf.empty() && nr_hosts && members[0].contains("fields") ? members[0]["fields"] : lf;
        for ( size_t k = 0; k < names.size(); ++k )
        {
            const json &f = names[k];
            const bool bits = str(f["kind"]) == "bits";
            auto value = [&](const json &list, uint64_t &v) {
                if ( !list.is_array() || k >= list.size() || !list[k]["value"].is_number() )
                    return false;
                v = list[k]["value"].get<uint64_t>();
                return true;
            };
            bool nonzero = false;
            uint64_t v = 0;
            for ( auto &m : members )
                nonzero |= m.contains("fields") && value(m["fields"], v) && v;
            nonzero |= value(lf, v) && v;
            if ( !nonzero )
                continue;
            uint64_t lvv = 0;
            const bool have_level = value(lf, lvv);
            h += "<tr><td>" + esc(f["name"]) + "</td><td><code>" + esc(where_text(f)) + "</code></td>";
            for ( auto &m : members )
            {
                if ( !m.contains("fields") || !value(m["fields"], v) )
                {
                    h += "<td class=\"num\">-</td>";
                    continue;
                }
                const bool diff = have_level && v != lvv;
                h += std::string("<td class=\"num") + (diff ? " diff" : "") + "\">" + num(v, bits) +
                     (diff ? " +" : "") + "</td>";
            }
            h += "<td class=\"num\">" + (have_level ? num(lvv, bits) : std::string("-")) + "</td></tr>\n";
        }
        h += "</tbody>\n</table>\n";
    }

    void vms(std::string &h) const
    {
        // VMs and where each could move.
        h += "<h2 id=\"vms\">VMs and where each could move</h2>\n";
        if ( show["vms"].empty() )
            h += "<p>No VMs are placed in this pool.</p>\n";
        else
        {
            h += "<p class=\"small\">The verdict of <code>cpupolicy vm migrate-check VM --to "
                 "HOST</code>: the VM's policy against the host's max policy, every blocker "
                 "named.</p>\n<table class=\"legend\"><tr><td class=\"m yes\">&#x2713;</td><td>can "
                 "move there</td><td class=\"m no\">&#x2717;</td><td>cannot: the blockers "
                 "follow</td><td class=\"m here\">&#x2302;</td><td>runs there</td></tr></table>\n";
            h += "<table>\n<thead><tr><th>VM</th><th>domid</th>";
            for ( auto &m : members )
                h += "<th>" + esc(m["name"]) + "</th>";
            h += "</tr></thead>\n<tbody>\n";
            for ( size_t i = 0; i < show["vms"].size(); ++i )
            {
                const json &vm = show["vms"][i];
                h += "<tr><th>" + esc(vm["name"]) + "</th><td class=\"num\">" + esc(vm["domid"]) + "</td>";
                for ( const Verdict &v : r_.moves[i] )
                {
                    if ( v.here )
                        h += "<td class=\"here\">&#x2302; runs here</td>";
                    else if ( v.compatible )
                        h += "<td class=\"yes\">&#x2713; can move</td>";
                    else
                    {
                        h += "<td class=\"no\">&#x2717; cannot<div class=\"small\">";
                        if ( !v.features.empty() )
                        {
                            h += "missing (" + std::to_string(v.features.size()) + "):";
                            for ( auto &f : v.features )
                                h += " " + esc(f);
                        }
                        for ( auto &f : v.fields )
                            h += "<br>" + esc(f);
                        h += "</div></td>";
                    }
                }
                h += "</tr>\n";
            }
            h += "</tbody>\n</table>\n";
        }
    }
};

// All of buf to fd, or -errno.
int write_all(int fd, const std::string &buf)
{
    size_t done = 0;
    while ( done < buf.size() )
    {
        ssize_t n = write(fd, buf.data() + done, buf.size() - done);
        if ( n < 0 && errno == EINTR )
            continue;
        if ( n <= 0 )
            return n < 0 ? -errno : -EIO;
        done += size_t(n);
    }
    return 0;
}

// FILE written atomically: a temporary file beside it, fsync'd, then renamed over it,
// so a reader sees the old page or the new one, never half of one.  "-": stdout.
int write_page(const char *file, const std::string &page)
{
    if ( !strcmp(file, "-") )
    {
        if ( fwrite(page.data(), 1, page.size(), stdout) != page.size() || fflush(stdout) )
        {
            fprintf(stderr, "cpupolicy: pool report: writing standard output: %s\n", strerror(errno));
            return exit_usage;
        }
        return exit_ok;
    }
    std::string tmp = std::string(file) + ".XXXXXX";
    int fd = mkstemp(tmp.data());
    if ( fd < 0 )
    {
        fprintf(stderr, "cpupolicy: pool report: cannot create %s: %s\n", tmp.c_str(), strerror(errno));
        return exit_usage;
    }
    const mode_t mask = umask(0);
    umask(mask);
    int rc = 0;
    const char *step = "writing";
    if ( (rc = write_all(fd, page)) == 0 )
    {
        step = "setting the mode of";
        if ( fchmod(fd, 0666 & ~mask) )
            rc = -errno;
    }
    if ( rc == 0 && fsync(fd) )
        step = "syncing", rc = -errno;
    if ( close(fd) && rc == 0 )
        step = "closing", rc = -errno;
    if ( rc == 0 && rename(tmp.c_str(), file) )
    {
        fprintf(stderr, "cpupolicy: pool report: renaming %s to %s: %s\n", tmp.c_str(), file,
                strerror(errno));
        unlink(tmp.c_str());
        return exit_usage;
    }
    if ( rc )
    {
        fprintf(stderr, "cpupolicy: pool report: %s %s: %s\n", step, tmp.c_str(), strerror(-rc));
        unlink(tmp.c_str());
        return exit_usage;
    }
    return exit_ok;
}

} // namespace

int pool_report(cpupolicy_store_t *s, const char *pool, const char *html, Progress &progress)
{
    Report r;
    const int rc = collect(s, pool, r, progress);
    progress.clear();
    if ( rc )
        return rc;
    std::string page;
    Page(r).render(page);
    return write_page(html, page);
}

} // namespace cpupolicy::cmd
