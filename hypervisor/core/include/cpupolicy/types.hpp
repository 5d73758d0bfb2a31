// SPDX-License-Identifier: MIT
// Basic vocabulary of the cpupolicy core: distinct types for the distinct index spaces
// (leaf, subleaf, MSR index, feature number) so that they cannot be swapped silently,
// the error record, and the errno values the core returns.
//
// Freestanding: only <stdint.h>/<stddef.h>-class headers may be included anywhere in
// hypervisor/ (checked by `make check-freestanding`).
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace cpupolicy {

// A CPUID leaf (EAX input), subleaf (ECX input), MSR index, feature number
// (word * 32 + bit).  enum class gives a distinct type with no implicit conversion;
// Leaf{7} constructs one and raw() reads it back.
enum class Leaf : uint32_t {};
enum class Subleaf : uint32_t {};
enum class MsrIndex : uint32_t {};
enum class Feature : uint32_t {};

constexpr uint32_t raw(Leaf v) { return static_cast<uint32_t>(v); }
constexpr uint32_t raw(Subleaf v) { return static_cast<uint32_t>(v); }
constexpr uint32_t raw(MsrIndex v) { return static_cast<uint32_t>(v); }
constexpr uint32_t raw(Feature v) { return static_cast<uint32_t>(v); }

// Xen's XEN_CPUID_NO_SUBLEAF: the subleaf value of a leaf that has none.
inline constexpr uint32_t NO_SUBLEAF = 0xffffffffu;
inline constexpr Subleaf kNoSubleaf = Subleaf{NO_SUBLEAF};

// Registers of one CPUID answer.
struct Regs {
    uint32_t a, b, c, d;
    constexpr bool operator==(const Regs &) const = default;
};
enum class Reg : uint8_t { eax, ebx, ecx, edx };

constexpr uint32_t &reg(Regs &r, Reg which)
{
    switch ( which ) {
    case Reg::eax: return r.a;
    case Reg::ebx: return r.b;
    case Reg::ecx: return r.c;
    default:       return r.d;
    }
}
constexpr uint32_t reg(const Regs &r, Reg which)
{
    switch ( which ) {
    case Reg::eax: return r.a;
    case Reg::ebx: return r.b;
    case Reg::ecx: return r.c;
    default:       return r.d;
    }
}

// The smaller / larger of two register values (no <algorithm> in the core).
constexpr uint32_t min32(uint32_t a, uint32_t b) { return a < b ? a : b; }
constexpr uint32_t max32(uint32_t a, uint32_t b) { return a > b ? a : b; }

// Where a fallible call went wrong.  Seeded to ~0 ("does not apply") and written on the
// single error exit of the function that fails, as Xen's cpu_policy_errors.
struct ErrRecord {
    uint32_t leaf = ~0u, subleaf = ~0u, msr = ~0u;
};

// errno values (Linux/x86 numbering, which is also what Xen's public errno.h uses).
// The core cannot include <errno.h> (not a freestanding header); the hosted library
// static_asserts that these agree with the C library's.
namespace err {
inline constexpr int eperm = 1;
inline constexpr int enoent = 2;
inline constexpr int e2big = 7;
inline constexpr int enomem = 12;
inline constexpr int ebusy = 16;
inline constexpr int eexist = 17;
inline constexpr int enodev = 19;
inline constexpr int enospc = 28;
inline constexpr int einval = 22;
inline constexpr int erange = 34;
inline constexpr int enobufs = 105;
inline constexpr int eoverflow = 75;
inline constexpr int eopnotsupp = 95;
inline constexpr int esrch = 3;
inline constexpr int eproto = 71;
} // namespace err

// Return value of every fallible core function: 0 or a negative errno.
#define CPUPOLICY_MUST_CHECK [[nodiscard]]

} // namespace cpupolicy
