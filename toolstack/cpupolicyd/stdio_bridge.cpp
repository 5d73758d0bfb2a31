// SPDX-License-Identifier: MIT
// cpupolicyd --stdio-bridge SOCKET: copy bytes between stdin/stdout and a running
// cpupolicyd's UNIX socket until either side closes.  This is what the ssh: backend runs
// on the remote host (docs/cpupolicyd.md, "Over ssh"), the role libvirt gives
// virt-ssh-helper for qemu+ssh:// URIs (libvirt docs/manpages/virt-ssh-helper.rst: "proxy
// stdio to the libvirtd UNIX socket"; older libvirt ran `nc -U SOCKET` there).  The
// protocol passes through untouched: the daemon still checks the connecting user
// (SO_PEERCRED sees the ssh login user) and every frame.
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "stdio_bridge.hpp"

namespace {

// Write all of buf to fd; false when the peer has gone.
bool write_all(int fd, const char *buf, size_t n)
{
    while ( n )
    {
        ssize_t w = fd == STDOUT_FILENO ? write(fd, buf, n) : send(fd, buf, n, MSG_NOSIGNAL);
        if ( w < 0 && errno == EINTR )
            continue;
        if ( w <= 0 )
            return false;
        buf += w;
        n -= static_cast<size_t>(w);
    }
    return true;
}

} // namespace

int stdio_bridge(const char *path)
{
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if ( !path || !*path || strlen(path) >= sizeof(sa.sun_path) )
    {
        fprintf(stderr, "cpupolicyd: --stdio-bridge: socket path empty or too long\n");
        return 2;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if ( s < 0 || connect(s, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) != 0 )
    {
        fprintf(stderr, "cpupolicyd: --stdio-bridge %s: cannot reach cpupolicyd: %s\n", path,
                strerror(errno));
        return 1;
    }
    pollfd p[2] = {{STDIN_FILENO, POLLIN, 0}, {s, POLLIN, 0}};
    char buf[65536];
    for ( ;; )
    {
        if ( poll(p, 2, -1) < 0 )
        {
            if ( errno == EINTR )
                continue;
            break;
        }
        if ( p[0].revents )
        {
            ssize_t r = read(STDIN_FILENO, buf, sizeof(buf));
            if ( r < 0 && errno == EINTR )
                continue;
            if ( r <= 0 || !write_all(s, buf, static_cast<size_t>(r)) )
                break;  // the client (ssh) closed: done
        }
        if ( p[1].revents )
        {
            ssize_t r = recv(s, buf, sizeof(buf), 0);
            if ( r < 0 && errno == EINTR )
                continue;
            if ( r <= 0 || !write_all(STDOUT_FILENO, buf, static_cast<size_t>(r)) )
                break;  // the daemon closed
        }
    }
    close(s);
    return 0;
}
