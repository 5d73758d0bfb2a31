// Importer of raw CPUID (+MSR) dumps into a flat, sorted list of records.
//
// Hosted userspace code (std::vector/std::string), never throws: every fallible
// function returns 0 or a negative errno and, on failure only, fills an ImportError.
// On failure the output CpuDump is left exactly as it was (nothing half-imported).
//
// Accepted formats (detected line by line, so no format switch is needed) and the
// rules that assign a subleaf to lines that carry none are documented in
// docs/import.md; the short version:
//
//   CPUID 00000007: 00000000-D39FFFFB-00000008-00000000 [SL 00] [any annotation]
//   CPUID 0000000D  <TAB>00000007-00000340-00000340-00000000
//   CPUID 00000000 : 00000001 746E6543 736C7561 48727561   (blank-separated registers,
//   CPUID 00000000 :00000006-68747541-444D4163-69746E65     blanks before the colon)
//   MSR 000000CE: 2612-0C00-0000-0311            (most significant 16 bits first)
//      0x00000007 0x00: eax=0x00000000 ebx=0x... ecx=0x... edx=0x...   (cpuid -r)
//
// with CPU blocks introduced by "------[ Logical CPU #N ]------",
// "------[ CPUID Registers / Logical CPU #N ]------", "CPU#NNN AffMask: ...",
// "CPU N:" / "CPU:" (cpuid -r), or by a repeated leaf 0 when there are no headers.
// MSR sections ("------[ MSR Registers / Logical CPU #N ]------") are attached to
// the CPU block with the same number wherever they sit in the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cpupolicy::import {

// A subleaf value no CPUID instruction is ever issued with; for consumers that want
// to spell "this leaf is not subleaf-indexed".  The importer itself records subleaf 0
// for such leaves (see CpuidRecord).
inline constexpr uint32_t NO_SUBLEAF = 0xffffffffu;

// One CPUID output.  `subleaf` is the ECX input.  Leaves that are not subleaf-indexed
// are recorded with subleaf 0, which is what the instruction was executed with; the
// consumer maps them to NO_SUBLEAF if it wants to.
struct CpuidRecord {
    uint32_t leaf, subleaf, a, b, c, d;
};

struct MsrRecord {
    uint32_t index;
    uint64_t value;
};

// One correction the importer made so that the records read as a 64-bit hypervisor
// would read them (docs/import.md, "Corrections"): bit `bit` of register `reg` (0 EAX,
// 1 EBX, 2 ECX, 3 EDX) of (leaf, subleaf) was set to `value`.  `line` is the dump line
// of the record (0 for native CPUID); `why` is a static string.
struct ImportNote {
    uint32_t leaf, subleaf;
    uint8_t reg, bit;
    bool value;
    unsigned line;
    const char *why;
};

// At most this many notes per imported CPU (one per correction rule), so a caller can
// size a fixed buffer.
inline constexpr unsigned MAX_IMPORT_NOTES = 8;

struct CpuDump {
    std::vector<CpuidRecord> leaves; // sorted by (leaf, subleaf), no duplicates
    std::vector<MsrRecord> msrs;     // sorted by index, no duplicates
    std::vector<ImportNote> notes;   // corrections made, in record order
    unsigned nr_cpus_in_file = 0;    // how many logical CPU blocks the file had
};

// The largest dump file read, in bytes.  The largest dump of the public InstLatx64
// collection (a 384-thread Genoa, every logical CPU) is 2.6 MB; a file beyond the limit is
// refused with -EFBIG before anything is allocated for it.
inline constexpr size_t MAX_DUMP_BYTES = size_t{16} << 20;

// Read a whole regular file of at most `limit` bytes into `text` (the one bounded file
// reader of the userspace code).  Returns 0, or
//   -ENOENT, -EACCES, ...  open/read failed (the errno of the failure);
//   -EINVAL                not a regular file (directory, FIFO, device, socket);
//   -EFBIG                 larger than `limit` (checked before reading, and again while
//                          reading, for a file that grows);
//   -ENOMEM                the buffer could not be allocated;
//   -ELOOP                 with READ_NOFOLLOW: `path` is a symbolic link.
// On failure `why` says what ("not a regular file (character device)", ...) and `text`
// is unchanged.  errno is preserved.
inline constexpr unsigned READ_NOFOLLOW = 1;  // refuse a symbolic link (O_NOFOLLOW)
[[nodiscard]] int read_bounded_file(const std::string &path, size_t limit, std::string &text,
                                    std::string &why, unsigned flags = 0);

// Where and why an import failed.  line 0 = not specific to a line.
struct ImportError {
    std::string file;
    unsigned line = 0;
    std::string what;
};

// Import logical CPU block `cpu` (0 = the first block in the file) of a dump file.
// The whole file is validated, whichever block is asked for.
// Returns 0, or:
//   -ENOENT, -EACCES, ... the file cannot be opened or read (errno of the failure);
//   -EFBIG   the file is larger than MAX_DUMP_BYTES;
//   -EINVAL  not a regular file, or malformed input: err names the file, the line and
//            what is wrong;
//   -ERANGE  the file has no block `cpu`: err says how many CPU blocks it has.
// `err` is written only when the return value is non-zero.
[[nodiscard]] int import_file(const std::string &path, unsigned cpu, CpuDump &out,
                              ImportError &err);

// As import_file, over text already in memory; `name_for_errors` is used as the
// file name in `err`.
[[nodiscard]] int import_text(std::string_view text, const std::string &name_for_errors,
                              unsigned cpu, CpuDump &out, ImportError &err);

// This machine's own CPUID (the logical CPU the caller happens to run on): basic
// leaves 0..max, extended leaves 0x80000000..max, each subleaf-indexed leaf
// enumerated by the rule its manual gives (docs/import.md).  No MSRs: reading them
// needs privilege.  nr_cpus_in_file is set to 1.
// Returns 0, or -ENODEV when not built for x86-64.
[[nodiscard]] int import_native(CpuDump &out);

// "FILE:LINE: what", or "FILE: what" when the error is not line specific.
std::string format_error(const ImportError &e);

} // namespace cpupolicy::import
