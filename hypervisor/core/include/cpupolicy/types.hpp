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
// (word * 32 + bit).  enum class gives a distinct type with no implicit conversion from
// or to an integer or to each other, so swapping a leaf and a subleaf argument, or
// passing an MSR index where a leaf belongs, does not compile
// (tests/scripts/test_index_types.sh proves it).  Zero cost: each is a uint32_t in
// size, alignment and calling convention, and ==, <, <= ... work as on the integer.
// Leaf{7} or 7_leaf constructs one; raw() reads it back.  The C ABI
// (libcpupolicy/include) and the wire structs stay plain uint32_t: the library
// converts at that boundary.
enum class Leaf : uint32_t {};
enum class Subleaf : uint32_t {};
enum class MsrIndex : uint32_t {};
enum class Feature : uint32_t {};

static_assert(sizeof(Leaf) == 4 && sizeof(Subleaf) == 4 && sizeof(MsrIndex) == 4 &&
              alignof(Leaf) == alignof(uint32_t), "index types are uint32_t-sized");

constexpr uint32_t raw(Leaf v) { return static_cast<uint32_t>(v); }
constexpr uint32_t raw(Subleaf v) { return static_cast<uint32_t>(v); }
constexpr uint32_t raw(MsrIndex v) { return static_cast<uint32_t>(v); }
constexpr uint32_t raw(Feature v) { return static_cast<uint32_t>(v); }

// Literals for tables: 0x80000008_leaf, 1_subleaf, 0x10a_msr.  In an inline namespace,
// so `using namespace cpupolicy::literals` brings in just these.
inline namespace literals {
constexpr Leaf operator""_leaf(unsigned long long v) { return Leaf{static_cast<uint32_t>(v)}; }
constexpr Subleaf operator""_subleaf(unsigned long long v) { return Subleaf{static_cast<uint32_t>(v)}; }
constexpr MsrIndex operator""_msr(unsigned long long v) { return MsrIndex{static_cast<uint32_t>(v)}; }
} // namespace literals

// The leaf `n` after `l` (walking a range of leaves).
constexpr Leaf operator+(Leaf l, uint32_t n) { return Leaf{raw(l) + n}; }
// How far leaf `b` lies above leaf `a` (an index into a range starting at `a`).
constexpr uint32_t operator-(Leaf b, Leaf a) { return raw(b) - raw(a); }

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
    Leaf leaf = Leaf{~0u};
    Subleaf subleaf = Subleaf{~0u};
    MsrIndex msr = MsrIndex{~0u};
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
