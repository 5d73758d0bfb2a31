// SPDX-License-Identifier: MIT
// The ssh backend ("ssh:[USER@]HOST[:PORT]/SOCKET"): cpupolicyd's protocol over the system
// ssh client's pipe to `cpupolicyd --stdio-bridge SOCKET` on HOST (backend_ssh.cpp).
#pragma once

#include "backend_unix.hpp"

namespace cpupolicy {

struct SshTarget {
    std::string uri;   // as given, for messages
    std::string user;  // "" = ssh's default
    std::string host;
    std::string port;  // "" = ssh's default
    std::string socket;
};

// Parse what follows "ssh:".  -EINVAL with `why` naming the part at fault.
[[nodiscard]] int parse_ssh_uri(const char *rest, SshTarget &t, std::string &why);

// Spawn ssh, say hello.  Errors as the unix backend's, `why` carrying ssh's own stderr
// (authentication, host key, unreachable) when the handshake fails.
[[nodiscard]] int ssh_backend_open(std::unique_ptr<Backend> &out, const char *rest, std::string &why);

} // namespace cpupolicy
