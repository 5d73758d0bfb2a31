// SPDX-License-Identifier: MIT
#pragma once
// cpupolicyd --stdio-bridge SOCKET (stdio_bridge.cpp): exit status.
int stdio_bridge(const char *socket_path);
