// SPDX-License-Identifier: MIT
// cpupolicyd's state file (DIR/domains.state), as bytes: encoding and a decoder that
// checks everything before it believes anything.  Pure functions, no I/O, so the fuzz
// target tests/fuzz/fuzz_state_file.cpp exercises exactly what the daemon runs.
// Layout and the reasons for it: docs/cpupolicyd.md "State directory".
//
// Version 2 (written), all little-endian u32 unless said:
//   header   magic "CPDS" (0x53445043), version 2, payload length, CRC-32 of the payload
//            (zlib's crc32, the ISO-HDLC / IEEE 802.3 polynomial)
//   payload  host id length, host id bytes, next domid, number of domains, then per domain
//            domid, type (0 PV, 1 HVM), started (0/1), nr_vcpus, and its policy in the
//            protocol's encoding (proto::encode_policy: counts, leaves, MSRs)
// Version 1 (read only, written by older daemons): magic, version 1, the same payload
// without the next domid, no length and no checksum.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "cpupolicy/hypervisor.hpp"
#include "protocol.hpp"

namespace cpupolicy::daemon {

inline constexpr uint32_t STATE_MAGIC = 0x53445043u;  // "CPDS"
inline constexpr uint32_t STATE_VERSION = 2;
inline constexpr size_t STATE_HEADER_SIZE = 16;
inline constexpr size_t MAX_HOST_ID = 4096;
// The largest file this build can write: every possible domid with the largest policy.
// Reads stop there (a larger file is damaged, not a reason to exhaust memory).
inline constexpr size_t STATE_MAX_BYTES =
    STATE_HEADER_SIZE + 4 + MAX_HOST_ID + 8 +
    size_t(DOMID_FIRST_RESERVED) * (16 + proto::POLICY_MAX_BYTES);

struct DomainRecord {
    DomId domid = 0;
    DomainType type = DomainType::pv;
    bool started = false;
    uint32_t nr_vcpus = 0;
    proto::PolicyWire policy;
};

struct StateFile {
    uint32_t version = STATE_VERSION;  // what decode found (1 or 2); encode writes 2
    std::string host_id;               // "dump=...,boot=...,cpus=N"
    DomId next_domid = 1;
    std::vector<DomainRecord> domains; // strictly increasing domids, no control domain
};

// Append the version-2 bytes of `s` to `out`: -E2BIG (out unchanged) for a host id or a
// policy beyond its bound.
[[nodiscard]] int state_encode(const StateFile &s, std::vector<uint8_t> &out);

// Decode buf[0..len).  0, or with `why` saying what is wrong (offsets in bytes):
//   -EBADMSG          not a state file, truncated, trailing bytes, checksum mismatch, a
//                     field out of range (names the domain)
//   -EPROTONOSUPPORT  a version this build does not read
// `out` is written only on success.
[[nodiscard]] int state_decode(const uint8_t *buf, size_t len, StateFile &out, std::string &why);

} // namespace cpupolicy::daemon
