// SPDX-License-Identifier: MIT
// Internal API (not installed): answering protocol requests from a Backend.  The codec
// itself (protocol.hpp) is an L1 piece that knows nothing of backends; serving needs the
// library's Backend interface, so it lives in the library and cpupolicyd reaches it
// through this header (docs/layers.md).
#pragma once

#include "backend.hpp"
#include "protocol.hpp"

namespace cpupolicy::proto {

// Answer `req` from `b` (the daemon's EmbeddedBackend): the hypercall's return value,
// error record and results, with the Backend's semantics unchanged.  hello's `access` is
// left 0 for the caller to fill (it knows the peer).  Permissions are the caller's job.
void serve(Backend &b, const Request &req, Reply &out);

} // namespace cpupolicy::proto
