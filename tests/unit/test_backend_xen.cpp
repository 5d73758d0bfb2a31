// SPDX-License-Identifier: MIT
// The "xen:" backend's opening (libcpupolicy/src/backend_xen.hpp) where it can be
// exercised without a Xen: every way of not reaching Xen is -ENODEV with a reason, no
// crash, nothing from libxc on stderr, errno untouched, and a malformed URI is -EINVAL.
// Against a running Xen the shared conformance suite takes over
// (tests/scripts/test_backend_xen.sh).
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "backend_xen.hpp"
#include "cpupolicy.h"
#include "fixture.hpp"

using namespace cpupolicy;
using namespace fixture;

namespace {

// Is this dom0 of a running Xen?  (/proc/xen/capabilities says "control_d" there.)
bool xen_control_domain()
{
    std::ifstream f("/proc/xen/capabilities");
    std::string s;
    return f && std::getline(f, s) && s.find("control_d") != std::string::npos;
}

// Runs fn with stderr redirected to a temporary file; returns what was written there.
template <typename Fn>
std::string stderr_of(Fn fn)
{
    fflush(stderr);
    char path[] = "/tmp/test_backend_xen.XXXXXX";
    int fd = mkstemp(path);
    int saved = dup(2);
    dup2(fd, 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    std::string out;
    char buf[512];
    ssize_t n;
    lseek(fd, 0, SEEK_SET);
    while ( (n = read(fd, buf, sizeof(buf))) > 0 )
        out.append(buf, size_t(n));
    close(fd);
    unlink(path);
    return out;
}

bool starts_with(const std::string &s, const char *p) { return s.rfind(p, 0) == 0; }

void xen_uri_without_a_running_xen_is_enodev_with_libxc_reason()
{
    if ( xen_control_domain() )
    {
        std::printf("note: running in dom0 of a Xen; the no-Xen path is not reachable here\n");
        return;
    }
    cpupolicy_handle_t *h = reinterpret_cast<cpupolicy_handle_t *>(1);
    int rc = 0;
    errno = 1234;
    std::string err = stderr_of([&] { rc = cpupolicy_open(&h, "xen:"); });
    expect_eq("cpupolicy_open(\"xen:\")", -ENODEV, rc);
    expect("handle set to NULL on failure", h == nullptr);
    expect_eq("errno untouched", 1234, errno);
    expect_eq("nothing on stderr (libxc's logger is ours)", std::string(), err);
    std::string msg = cpupolicy_last_error();
    expect("message says the control interface could not be opened: " + msg,
           starts_with(msg, "xen: cannot open the Xen control interface"));
    // libxc's own reason is carried (on Debian 4.17: "... privileged command interface:
    // No such file or directory").
    expect("message carries libxc's reason: " + msg,
           msg.find("privileged command interface") != std::string::npos ||
               msg.find("No such file") != std::string::npos);
    // The next successful open clears it.
    cpupolicy_handle_t *e = nullptr;
    expect_eq("embedded open after a failed xen: open", 0, cpupolicy_open(&e, ""));
    expect_eq("last error cleared", std::string(), std::string(cpupolicy_last_error()));
    cpupolicy_close(e);
}

void missing_xen_libraries_are_enodev_naming_them()
{
    XenLibNames names;
    names.ctrl[0] = "libxenctrl-not-here.so.0";
    names.ctrl[1] = nullptr;
    std::unique_ptr<Backend> b;
    std::string why;
    expect_eq("rc", -ENODEV, xen_backend_open(b, "", why, names));
    expect("no backend", !b);
    expect("message says not installed: " + why,
           starts_with(why, "xen: Xen's control libraries are not installed (") &&
               why.find("libxenctrl-not-here.so.0") != std::string::npos);

    XenLibNames g;
    g.guest[0] = "libxenguest-not-here.so.0";
    g.guest[1] = nullptr;
    why.clear();
    expect_eq("rc, guest library missing", -ENODEV, xen_backend_open(b, "", why, g));
    expect("names the guest library: " + why,
           why.find("libxenguest-not-here.so.0") != std::string::npos);
}

void a_library_without_the_xc_symbols_is_enodev_naming_the_symbol()
{
    XenLibNames names;
    names.ctrl[0] = names.guest[0] = "libc.so.6";
    names.ctrl[1] = names.guest[1] = nullptr;
    std::unique_ptr<Backend> b;
    std::string why;
    expect_eq("rc", -ENODEV, xen_backend_open(b, "", why, names));
    expect("names xc_interface_open: " + why,
           why.find("lacks xc_interface_open") != std::string::npos);
}

void xen_uri_with_options_is_einval()
{
    cpupolicy_handle_t *h = nullptr;
    expect_eq("xen:foo", -EINVAL, cpupolicy_open(&h, "xen:foo"));
    expect_eq("message", std::string("xen: URI takes no options (got 'foo')"),
              std::string(cpupolicy_last_error()));
    expect("handle NULL", h == nullptr);
    // "xen" without the colon is not the scheme.
    expect_eq("xen (no colon)", -EINVAL, cpupolicy_open(&h, "xen"));
}

void unsupported_scheme_message_lists_xen()
{
    cpupolicy_handle_t *h = nullptr;
    expect_eq("bogus:", -EINVAL, cpupolicy_open(&h, "bogus:x"));
    std::string msg = cpupolicy_last_error();
    expect("lists xen: among the schemes: " + msg, msg.find("xen:") != std::string::npos);
}

} // namespace

int main()
{
    TEST(xen_uri_without_a_running_xen_is_enodev_with_libxc_reason);
    TEST(missing_xen_libraries_are_enodev_naming_them);
    TEST(a_library_without_the_xc_symbols_is_enodev_naming_the_symbol);
    TEST(xen_uri_with_options_is_einval);
    TEST(unsupported_scheme_message_lists_xen);
    return finish();
}
