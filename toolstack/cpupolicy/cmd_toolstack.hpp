// SPDX-License-Identifier: MIT
// The toolstack subcommands of `cpupolicy` (pool, vm, compare over hosts/pools/VMs, policy
// text): thin layers over cpupolicy_toolstack.h.  Each library call answers with a JSON
// document; --json prints it as is, otherwise it is rendered as text here.
#pragma once

#define JSON_NOEXCEPTION 1
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "cpupolicy.h"
#include "cpupolicy_toolstack.h"

namespace cpupolicy::cmd {

using json = nlohmann::json;

enum Exit { exit_ok = 0, exit_no = 1, exit_usage = 2 };

// Options shared by the toolstack subcommands.
struct Common {
    const char *store = nullptr;  // --store PATH
    bool json = false;            // --json
    bool force = false;           // --force
    bool quiet = false;           // --quiet: no progress on the terminal
};

// Progress of a long operation on standard error - only when standard error is a
// terminal and the command was given neither --json nor --quiet: one line, "[3/10]
// reading host ...", rewritten in place (carriage return, erase to the end of the line)
// and erased when done or before anything else is printed, so nothing of it stays on the
// screen or reaches a log.  total 0: a step without a count.
class Progress {
public:
    explicit Progress(bool wanted);
    ~Progress() { clear(); }
    Progress(const Progress &) = delete;
    Progress &operator=(const Progress &) = delete;
    void show(const char *what, uint32_t done, uint32_t total);
    void clear();
    // A cpupolicy_progress_fn (cpupolicy_store_set_progress) for arg = this.
    static void callback(void *arg, const char *what, uint32_t done, uint32_t total);

private:
    bool on_, shown_ = false;
};

int cmd_pool(int argc, char **argv);
int cmd_vm(int argc, char **argv);
// compare HOST GUEST where either is a DUMP, a host URI, pool:NAME or vm:NAME.
int cmd_compare_any(int argc, char **argv);
// policy [--format text|table] [--index I] [--boot-options O] SOURCE (text:FILE reads
// the text form back).
int cmd_policy_any(int argc, char **argv);
// Whether a compare/policy argument needs the toolstack path (URI, pool:, vm:, text:).
bool is_toolstack_source(const char *arg);

// --- helpers (cmd_common.cpp) ----------------------------------------------------------
cpupolicy_store_t *open_store(const Common &c);
// Print the library's document (--json) or render it; then map rc to an exit code.
int finish(cpupolicy_store_t *s, const Common &c, int rc, char *doc, void (*render)(json &));
std::string str(const json &j);
std::string hex(const json &j);
std::string where(json &item);
void print_loss(json &loss, const char *indent, const char *old_name, const char *new_name);
void print_items(json &items, const char *indent, const char *gname, const char *hname);
std::string join(json &arr, const char *sep = " ");
void print_verdict(json &verdict);
// Where featureset word w lives, as xen-cpuid labels it ("CPUID 0x00000007:0.ebx").
std::string word_label(uint32_t w);
// pool report NAME --html FILE (cmd_report.cpp): FILE "-" is standard output.
int pool_report(cpupolicy_store_t *s, const char *pool, const char *html, Progress &progress);

} // namespace cpupolicy::cmd
