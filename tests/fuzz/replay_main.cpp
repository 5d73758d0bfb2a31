// SPDX-License-Identifier: MIT
// A standalone driver for the fuzz harnesses: `make check` runs every harness without
// clang or libFuzzer, cheaply and deterministically.
//
//   TARGET-replay [-n MUTATIONS] [-s SEED] [FILE|DIR ...]
//
// With no FILE, replays the committed seed corpus tests/fuzz/corpus/TARGET/ (TARGET is
// this program's name without "-replay"; CPUPOLICY_FUZZ_DIR replaces tests/fuzz), then
// MUTATIONS (default 10000) inputs made from it by a fixed-seed PRNG: bit flips, boundary
// bytes and words, insertions, deletions, duplicated runs, splices of two seeds and the
// tokens of tests/fuzz/TARGET.dict (libFuzzer's dictionary format).  The same seed gives
// the same inputs on every machine, so a failure here reproduces.  With FILEs (a crash
// file from `make fuzz`, say) it runs just those, unmutated unless -n is given.
//
// A harness reports a broken invariant by aborting (FUZZ_CHECK); before the process
// dies, the input at fault is written to $TMPDIR/TARGET-crash-PID.bin and named on
// stderr, from a signal handler and from the sanitizers' death callback alike.
// The last line is "N passed, 0 failed, 0 skipped" (N: corpus inputs, plus one for the
// batch of mutations), as tests/run-tests.sh adds it up.
#include "fuzz.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

extern "C" void __sanitizer_set_death_callback(void (*)(void)) __attribute__((weak));

namespace {

using Bytes = std::vector<uint8_t>;

// --- The input in flight, for the crash report --------------------------------------------
const uint8_t *g_data;
size_t g_size;
char g_desc[256];
char g_path[512];

void write_all(int fd, const void *p, size_t n)
{
    const char *c = static_cast<const char *>(p);
    while ( n )
    {
        ssize_t w = write(fd, c, n);
        if ( w <= 0 )
            return;
        c += w;
        n -= static_cast<size_t>(w);
    }
}

// Async-signal-safe: open/write/close only.
void save_crash_input()
{
    static volatile sig_atomic_t done;
    if ( done || !g_data )
        return;
    done = 1;
    int fd = open(g_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if ( fd >= 0 )
    {
        write_all(fd, g_data, g_size);
        close(fd);
    }
    write_all(2, "replay: failing input: ", 23);
    write_all(2, g_desc, strlen(g_desc));
    write_all(2, "\nreplay: saved to ", 18);
    write_all(2, g_path, strlen(g_path));
    write_all(2, "\n", 1);
}

void on_fatal_signal(int sig)
{
    save_crash_input();
    signal(sig, SIG_DFL);
    raise(sig);
}

void run(const Bytes &in, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void run(const Bytes &in, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_desc, sizeof(g_desc), fmt, ap);
    va_end(ap);
    // A copy of exactly the input's size, so an over-read is an ASan report here too.
    uint8_t *copy = new uint8_t[in.size() ? in.size() : 1];
    if ( !in.empty() )
        memcpy(copy, in.data(), in.size());
    g_data = copy;
    g_size = in.size();
    LLVMFuzzerTestOneInput(copy, in.size());
    g_data = nullptr;
    delete[] copy;
}

// --- Files ------------------------------------------------------------------------------
bool read_file(const std::string &path, Bytes &out)
{
    FILE *f = fopen(path.c_str(), "rb");
    if ( !f )
        return false;
    out.clear();
    uint8_t buf[4096];
    size_t n;
    while ( (n = fread(buf, 1, sizeof(buf), f)) > 0 )
        out.insert(out.end(), buf, buf + n);
    bool ok = !ferror(f);
    fclose(f);
    return ok;
}

// FILE, or every regular file of DIR (sorted, so the order is the same everywhere).
bool collect(const std::string &path, std::vector<std::string> &files)
{
    struct stat st;
    if ( stat(path.c_str(), &st) != 0 )
        return false;
    if ( !S_ISDIR(st.st_mode) )
    {
        files.push_back(path);
        return true;
    }
    DIR *d = opendir(path.c_str());
    if ( !d )
        return false;
    std::vector<std::string> found;
    while ( dirent *e = readdir(d) )
    {
        std::string p = path + "/" + e->d_name;
        if ( e->d_name[0] != '.' && stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) )
            found.push_back(p);
    }
    closedir(d);
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
    return true;
}

// libFuzzer dictionary: `name="token"` or `"token"` per line, \\ \" \xNN escapes, # comments.
std::vector<Bytes> read_dict(const std::string &path)
{
    std::vector<Bytes> toks;
    Bytes text;
    if ( !read_file(path, text) )
        return toks;
    std::string s(text.begin(), text.end());
    size_t pos = 0;
    while ( pos < s.size() )
    {
        size_t eol = s.find('\n', pos);
        std::string line = s.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
        pos = eol == std::string::npos ? s.size() : eol + 1;
        size_t q = line.find('"');
        if ( line.empty() || line[0] == '#' || q == std::string::npos )
            continue;
        Bytes t;
        for ( size_t i = q + 1; i < line.size() && line[i] != '"'; ++i )
        {
            if ( line[i] != '\\' || i + 1 >= line.size() )
                t.push_back(static_cast<uint8_t>(line[i]));
            else if ( line[i + 1] == 'x' && i + 3 < line.size() )
            {
                t.push_back(static_cast<uint8_t>(strtoul(line.substr(i + 2, 2).c_str(), nullptr, 16)));
                i += 3;
            }
            else
                t.push_back(static_cast<uint8_t>(line[++i]));
        }
        if ( !t.empty() )
            toks.push_back(t);
    }
    return toks;
}

// --- Mutations ----------------------------------------------------------------------------
struct Rng {
    uint64_t s;
    uint64_t next()  // splitmix64
    {
        uint64_t z = (s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    size_t below(size_t n) { return n ? static_cast<size_t>(next() % n) : 0; }
};

constexpr size_t MAX_INPUT_BYTES = 64 * 1024;

void mutate_once(Bytes &d, Rng &r, const std::vector<Bytes> &seeds, const std::vector<Bytes> &dict)
{
    static constexpr uint8_t bytes[] = {0x00, 0x01, 0x7f, 0x80, 0xff, '0', '9', 'a', 'f', 'F',
                                        'x', ':', '-', '=', ',', ' ', '\t', '\n', '\r', '[',
                                        ']', '#'};
    static constexpr uint32_t words[] = {0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fffffff,
                                         0x80000000u, 0xffffffffu, 0xfffffffeu, 0x40000000u,
                                         0x80000008u, 0xce, 0x10a, 24, 16384, 16385};
    const size_t pos = r.below(d.size() + 1);
    switch ( r.below(9) )
    {
    case 0:  // flip a bit
        if ( !d.empty() )
            d[r.below(d.size())] ^= static_cast<uint8_t>(1u << r.below(8));
        break;
    case 1:  // a boundary byte
        if ( !d.empty() )
            d[r.below(d.size())] = bytes[r.below(sizeof(bytes))];
        break;
    case 2:  // a boundary little-endian word
        if ( d.size() >= 4 )
        {
            uint32_t w = words[r.below(sizeof(words) / sizeof(words[0]))];
            size_t at = r.below(d.size() - 3);
            for ( unsigned i = 0; i < 4; ++i )
                d[at + i] = static_cast<uint8_t>(w >> (8 * i));
        }
        break;
    case 3:  // insert random bytes
        for ( size_t n = 1 + r.below(4); n; --n )
            d.insert(d.begin() + static_cast<long>(pos), static_cast<uint8_t>(r.next()));
        break;
    case 4:  // delete a run
        if ( !d.empty() )
        {
            size_t at = r.below(d.size()), n = 1 + r.below(std::min<size_t>(32, d.size() - at));
            d.erase(d.begin() + static_cast<long>(at), d.begin() + static_cast<long>(at + n));
        }
        break;
    case 5:  // duplicate a run elsewhere
        if ( !d.empty() )
        {
            size_t at = r.below(d.size()), n = 1 + r.below(std::min<size_t>(64, d.size() - at));
            Bytes run(d.begin() + static_cast<long>(at), d.begin() + static_cast<long>(at + n));
            d.insert(d.begin() + static_cast<long>(pos), run.begin(), run.end());
        }
        break;
    case 6:  // splice: this input's head, another seed's tail
    {
        const Bytes &o = seeds[r.below(seeds.size())];
        size_t from = r.below(o.size() + 1);
        d.resize(pos);
        d.insert(d.end(), o.begin() + static_cast<long>(from), o.end());
        break;
    }
    case 7:  // a run of another seed copied in
    {
        const Bytes &o = seeds[r.below(seeds.size())];
        if ( !o.empty() )
        {
            size_t at = r.below(o.size()), n = 1 + r.below(std::min<size_t>(128, o.size() - at));
            d.insert(d.begin() + static_cast<long>(pos), o.begin() + static_cast<long>(at),
                     o.begin() + static_cast<long>(at + n));
        }
        break;
    }
    default:  // a dictionary token, inserted or overwriting
        if ( !dict.empty() )
        {
            const Bytes &t = dict[r.below(dict.size())];
            if ( r.below(2) || pos + t.size() > d.size() )
                d.insert(d.begin() + static_cast<long>(pos), t.begin(), t.end());
            else
                std::copy(t.begin(), t.end(), d.begin() + static_cast<long>(pos));
        }
        break;
    }
    if ( d.size() > MAX_INPUT_BYTES )
        d.resize(MAX_INPUT_BYTES);
}

void usage(const char *argv0)
{
    fprintf(stderr, "usage: %s [-n MUTATIONS] [-s SEED] [FILE|DIR ...]\n", argv0);
    exit(2);
}

} // namespace

int main(int argc, char **argv)
{
    std::string target = argv[0];
    target = target.substr(target.rfind('/') == std::string::npos ? 0 : target.rfind('/') + 1);
    if ( target.size() > 7 && target.compare(target.size() - 7, 7, "-replay") == 0 )
        target.resize(target.size() - 7);

    long mutations = -1;
    uint64_t seed = 0x63707570u;  // "cpup"
    std::vector<std::string> args;
    for ( int i = 1; i < argc; ++i )
    {
        std::string a = argv[i];
        if ( (a == "-n" || a == "-s") && i + 1 < argc )
        {
            char *end;
            unsigned long long v = strtoull(argv[++i], &end, 0);
            if ( *end )
                usage(argv[0]);
            if ( a == "-n" )
                mutations = static_cast<long>(v);
            else
                seed = v;
        }
        else if ( !a.empty() && a[0] == '-' )
            usage(argv[0]);
        else
            args.push_back(a);
    }

    const char *env = getenv("CPUPOLICY_FUZZ_DIR");
    const std::string dir = env && *env ? env : "tests/fuzz";
    const bool default_corpus = args.empty();
    if ( default_corpus )
        args.push_back(dir + "/corpus/" + target);
    if ( mutations < 0 )
        mutations = default_corpus ? 10000 : 0;

    const char *tmp = getenv("TMPDIR");
    snprintf(g_path, sizeof(g_path), "%s/%s-crash-%d.bin", tmp && *tmp ? tmp : "/tmp",
             target.c_str(), static_cast<int>(getpid()));
    for ( int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL} )
        signal(sig, on_fatal_signal);
    if ( __sanitizer_set_death_callback )
        __sanitizer_set_death_callback(save_crash_input);

    std::vector<std::string> files;
    for ( const std::string &a : args )
        if ( !collect(a, files) )
        {
            fprintf(stderr, "%s: cannot read %s\n", target.c_str(), a.c_str());
            printf("0 passed, 1 failed\n");
            return 1;
        }
    std::vector<Bytes> seeds;
    for ( const std::string &f : files )
    {
        Bytes b;
        if ( !read_file(f, b) )
        {
            fprintf(stderr, "%s: cannot read %s\n", target.c_str(), f.c_str());
            printf("0 passed, 1 failed\n");
            return 1;
        }
        seeds.push_back(std::move(b));
    }
    if ( seeds.empty() )
    {
        fprintf(stderr, "%s: no inputs in %s\n", target.c_str(), args[0].c_str());
        printf("0 passed, 1 failed\n");
        return 1;
    }
    const std::vector<Bytes> dict = read_dict(dir + "/" + target + ".dict");

    unsigned long runs = 0;
    for ( size_t i = 0; i < seeds.size(); ++i, ++runs )
        run(seeds[i], "%s", files[i].c_str());

    Rng rng{seed};
    for ( long m = 0; m < mutations; ++m, ++runs )
    {
        size_t from = rng.below(seeds.size());
        Bytes d = seeds[from];
        size_t n = 1 + rng.below(4);
        for ( size_t k = 0; k < n; ++k )
            mutate_once(d, rng, seeds, dict);
        run(d, "mutation %ld of %s (seed %#llx; %zu edits)", m, files[from].c_str(),
            static_cast<unsigned long long>(seed), n);
    }

    printf("%s: %zu input files, %ld mutations (seed %#llx), %zu dictionary tokens\n",
           target.c_str(), seeds.size(), mutations, static_cast<unsigned long long>(seed),
           dict.size());
    // Tests, as tests/run-tests.sh counts them: each corpus input is one, the batch of
    // mutations one more (a failing run never gets here: it aborts with the input saved).
    printf("(%lu runs)\n", runs);
    printf("%zu passed, 0 failed, 0 skipped\n", seeds.size() + (mutations > 0 ? 1 : 0));
    return 0;
}
