// SPDX-License-Identifier: MIT
// Named CPU models (libcpupolicy/models/, issue 10), white-box:
//   cpu map     libvirt's map is read by definition (leaf/subleaf/register/bit, MSR
//               index/bit), never by name; what has no counterpart is listed; parents and
//               removed features expand as libvirt expands them; every malformed input is
//               an error naming file and line (synthetic maps in a temporary folder)
//   installed   every x86 model of Debian's map loads; its features agree with the
//               definitions (the libvirt-vs-us comparison is tests/scripts/test_models_libvirt.sh)
//   model files the RelaxNG schema and the reader reject malformed models with file and
//               line; generated models read back identically; names are NAME-vN.xml
//   check       every blocker: vendor, each feature, each numeric field with both values
//   suggest     the most capable runnable model of a host, and the delta
//   apply       the domain builder's step: vendor refused, features and fields set
//   export      libvirt XML valid against Debian libvirt's domain.rng (libxml2 RelaxNG)
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/relaxng.h>

#include <fstream>
#include <set>

#include "catalog.hpp"
#include "cpupolicy/compat.hpp"
#include "cpupolicy/derive.hpp"
#include "cpupolicy/features.hpp"
#include "harness.hpp"

using namespace cpupolicy;
using namespace cpupolicy::models;
using unittest::dump_path;
using unittest::import_policy;

namespace {

std::string tmpdir()
{
    static std::string d = [] {
        char t[] = "/tmp/test_models.XXXXXX";
        return std::string(mkdtemp(t));
    }();
    return d;
}

void write(const std::string &path, const std::string &text)
{
    std::ofstream(path) << text;
}

uint32_t num(const char *name)
{
    uint32_t f = ~0u;
    features::lookup(name, strlen(name), &f);
    return f;
}

// A synthetic map folder: index.xml including the given files.
std::string make_map(const std::string &name, const std::vector<std::pair<std::string, std::string>> &files)
{
    std::string dir = tmpdir() + "/" + name;
    mkdir(dir.c_str(), 0700);
    std::string idx = "<cpus>\n  <arch name='x86'>\n";
    for ( const auto &[fn, text] : files )
    {
        idx += "    <include filename='" + fn + "'/>\n";
        write(dir + "/" + fn, text);
    }
    idx += "  </arch>\n  <arch name='ppc64'><include filename='nothere.xml'/></arch>\n</cpus>\n";
    write(dir + "/index.xml", idx);
    return dir;
}

const char vendors_xml[] = "<cpus>\n  <vendor name='Intel' string='GenuineIntel'/>\n"
                           "  <vendor name='AMD' string='AuthenticAMD'/>\n</cpus>\n";
// Names chosen so that matching by name would give the wrong answer.
const char features_xml[] =
    "<cpus>\n"
    "  <feature name='fpu'><cpuid eax_in='0x01' edx='0x00000001'/></feature>\n"
    "  <feature name='vector-two'><cpuid eax_in='0x07' ecx_in='0x00' ebx='0x00000020'/></feature>\n"  // avx2
    "  <feature name='avx512f'><cpuid eax_in='0x06' eax='0x00000004'/></feature>\n"  // arat's bit: no counterpart
    "  <feature name='pair'><cpuid eax_in='0x01' ecx='0x00000003'/></feature>\n"  // two bits
    "  <feature name='sub-one'><cpuid eax_in='0x07' ecx_in='0x01' eax='0x00000010'/></feature>\n"  // avx-vnni
    "  <feature name='xsv'><cpuid eax_in='0x0d' ecx_in='0x01' eax='0x00000001'/></feature>\n"  // xsaveopt
    "  <feature name='caps-rdcl'><msr index='0x10a' edx='0' eax='0x00000001'/></feature>\n"  // rdcl-no
    "  <feature name='core-caps'><msr index='0xcf' edx='0' eax='0x00000020'/></feature>\n"  // no counterpart
    "  <feature name='unnamed-bit'><cpuid eax_in='0x01' edx='0x00100000'/></feature>\n"  // 1.edx[20]: table names none
    "</cpus>\n";

} // namespace

TEST(map_features_match_by_definition_never_by_name)
{
    std::string dir = make_map("defs", {{"v.xml", vendors_xml}, {"f.xml", features_xml}});
    CpuMap m;
    std::string err;
    EXPECT_RC(0, load_cpu_map(m, dir, &err));
    EXPECT_EQ(std::string(), err);
    const struct { const char *libvirt; uint32_t ours; } rows[] = {
        {"fpu", num("fpu")},
        {"vector-two", num("avx2")},
        {"avx512f", ~0u},           // same name as ours, different bit: no counterpart
        {"pair", ~0u},              // a two-bit definition is no single feature
        {"sub-one", num("avx-vnni")},
        {"xsv", num("xsaveopt")},
        {"caps-rdcl", num("rdcl-no")},
        {"core-caps", ~0u},
        {"unnamed-bit", ~0u},
    };
    for ( const auto &r : rows )
    {
        const LibvirtFeature *f = m.feature(r.libvirt);
        EXPECT_TRUE(f != nullptr);
        if ( f )
            EXPECT_EQ(r.ours, f->feature);
    }
    EXPECT_EQ(std::string("GenuineIntel"), m.vendors["Intel"]);
}

TEST(map_models_inherit_from_parent_and_drop_removed_features)
{
    std::string models =
        "<cpus>\n"
        "  <model name='Base'>\n    <signature family='6' model='85' stepping='0-4'/>\n"
        "    <vendor name='Intel'/>\n    <feature name='fpu'/>\n    <feature name='vector-two'/>\n"
        "    <feature name='avx512f'/>\n  </model>\n"
        "  <model name='Child'>\n    <model name='Base'/>\n    <feature name='xsv'/>\n"
        "    <feature name='vector-two' removed='yes'/>\n  </model>\n"
        "</cpus>\n";
    std::string dir = make_map("inherit", {{"v.xml", vendors_xml}, {"f.xml", features_xml}, {"m.xml", models}});
    CpuMap m;
    std::string err;
    EXPECT_RC(0, load_cpu_map(m, dir, &err));
    EXPECT_EQ(size_t{2}, m.models.size());
    if ( m.models.size() != 2 )
        return;
    const Model &b = m.models[0], &c = m.models[1];
    Featureset want_b, want_c;
    want_b.set(Feature{num("fpu")});
    want_b.set(Feature{num("avx2")});
    want_c.set(Feature{num("fpu")});
    want_c.set(Feature{num("xsaveopt")});
    EXPECT_EQ(want_b, b.features);
    EXPECT_EQ(want_c, c.features);
    EXPECT_EQ(std::string("avx512f"), b.unmapped.size() == 1 ? b.unmapped[0] : std::string("?"));
    EXPECT_EQ(std::string("Base"), c.parent);
    EXPECT_EQ(std::string("GenuineIntel"), c.vendor);  // inherited
    EXPECT_EQ(size_t{1}, c.signatures.size());         // inherited
    EXPECT_EQ(std::string("vector-two"), c.removed.size() == 1 ? c.removed[0] : std::string("?"));
    EXPECT_EQ(std::string("avx512f fpu xsv"),
              c.libvirt_features.size() == 3 ? c.libvirt_features[0] + " " + c.libvirt_features[1] + " " +
                                                   c.libvirt_features[2]
                                             : std::string("?"));
    EXPECT_EQ(4u, b.signatures.empty() ? 0u : b.signatures[0].stepping_hi);
}

TEST(map_errors_name_file_and_line)
{
    const struct { const char *name, *file_text, *expect; int rc; } rows[] = {
        {"broken", "<cpus>\n  <feature name='x'>\n</cpus>\n", "bad.xml:3:", -EINVAL},
        {"unknown-element", "<cpus>\n\n  <gadget/>\n</cpus>\n", "bad.xml:3: unknown element <gadget>", -EINVAL},
        {"unknown-attribute", "<cpus>\n  <feature name='y' colour='red'><cpuid eax_in='1' edx='1'/></feature>\n</cpus>\n",
         "bad.xml:2: unknown attribute 'colour' on <feature>", -EINVAL},
        {"bad-number", "<cpus>\n  <feature name='y'>\n    <cpuid eax_in='0xzz' edx='1'/>\n  </feature>\n</cpus>\n",
         "bad.xml:3: bad number '0xzz' in attribute 'eax_in'", -EINVAL},
        {"unknown-feature", "<cpus>\n  <model name='M'>\n    <feature name='nosuch'/>\n  </model>\n</cpus>\n",
         "bad.xml:3: model 'M': unknown feature 'nosuch'", -EINVAL},
        {"unknown-parent", "<cpus>\n  <model name='M'>\n    <model name='Nope'/>\n  </model>\n</cpus>\n",
         "bad.xml:3: model 'M': unknown ancestor model 'Nope'", -EINVAL},
        {"unknown-vendor", "<cpus>\n  <model name='M'>\n    <vendor name='Zilog'/>\n  </model>\n</cpus>\n",
         "bad.xml:3: model 'M': unknown vendor 'Zilog'", -EINVAL},
        {"no-definition", "<cpus>\n  <feature name='empty'/>\n</cpus>\n",
         "bad.xml:2: feature 'empty' has no <cpuid> or <msr> definition", -EINVAL},
    };
    for ( const auto &r : rows )
    {
        std::string dir = make_map(r.name, {{"v.xml", vendors_xml}, {"f.xml", features_xml}, {"bad.xml", r.file_text}});
        CpuMap m;
        std::string err;
        EXPECT_RC(r.rc, load_cpu_map(m, dir, &err));
        std::string want = dir + "/" + r.expect;
        EXPECT_EQ(want, err.substr(0, want.size()));
    }
    CpuMap m;
    std::string err;
    EXPECT_RC(-ENOENT, load_cpu_map(m, tmpdir() + "/no-such-map", &err));
    EXPECT_EQ(tmpdir() + "/no-such-map/index.xml: no such file", err);
    std::string dir = make_map("missing-include", {{"v.xml", vendors_xml}});
    unlink((dir + "/v.xml").c_str());
    EXPECT_RC(-ENOENT, load_cpu_map(m, dir, &err));
}

TEST(installed_map_loads_every_x86_model_and_maps_single_bits_consistently)
{
    CpuMap m;
    std::string err;
    int rc = load_cpu_map(m, "", &err);
    EXPECT_RC(0, rc);
    if ( rc )
        return;
    // Debian 12's libvirt 9.0 ships 58 x86 models; each x86_*.xml but the vendors and
    // features files is one model.
    unsigned nr_files = 0;
    if ( DIR *d = opendir(DEFAULT_CPU_MAP_DIR) )
    {
        while ( dirent *e = readdir(d) )
            nr_files += !strncmp(e->d_name, "x86_", 4) && strcmp(e->d_name, "x86_vendors.xml") &&
                        strcmp(e->d_name, "x86_features.xml");
        closedir(d);
    }
    EXPECT_EQ(size_t{nr_files}, m.models.size());
    EXPECT_TRUE(m.models.size() >= 50);
    // Every mapped feature's definition is its word's leaf/subleaf/register and its bit.
    unsigned mapped = 0;
    for ( const auto &f : m.features )
    {
        if ( f.feature == ~0u )
            continue;
        ++mapped;
        const WordSource &s = table::words[f.feature / 32].src;
        EXPECT_EQ(s.is_msr ? raw(s.msr) : raw(s.leaf), f.items[0].leaf);
        EXPECT_EQ(1u << (f.feature % 32), f.items[0].mask);
    }
    EXPECT_TRUE(mapped > 150);
    // Known pairs where libvirt's and Xen's names differ.
    const struct { const char *libvirt, *ours; } pairs[] = {
        {"pclmuldq", "pclmulqdq"}, {"sse4.1", "sse4-1"}, {"pni", "sse3"}, {"spec-ctrl", "ibrsb"},
        {"pdpe1gb", "page1gb"},   {"lahf_lm", "lahf-lm"}, {"rdctl-no", "rdcl-no"},
    };
    for ( const auto &p : pairs )
    {
        const LibvirtFeature *f = m.feature(p.libvirt);
        EXPECT_EQ(num(p.ours), f ? f->feature : ~0u);
    }
}

// --- model files ------------------------------------------------------------------------
namespace {

std::string model_text(const std::string &body, const char *name = "T", const char *version = "1")
{
    return std::string("<?xml version='1.0'?>\n<cpu-model name='") + name + "' version='" + version +
           "'>\n" + body + "</cpu-model>\n";
}
const char good_body[] = "  <vendor>GenuineIntel</vendor>\n"
                         "  <numeric>\n    <field name='phys-addr-bits' value='46'/>\n  </numeric>\n"
                         "  <features>\n    <feature name='fpu'/>\n    <feature name='avx2'/>\n"
                         "    <feature name='avx'/>\n    <feature name='xsave'/>\n  </features>\n";

} // namespace

TEST(model_files_schema_and_reader_reject_malformed_models_with_file_and_line)
{
    const struct { const char *what; std::string text; const char *expect; } rows[] = {
        {"no vendor", model_text("  <features/>\n"), "T-v1.xml:2: "},
        {"unknown element", model_text(std::string(good_body) + "  <colour>red</colour>\n"), "T-v1.xml:"},
        {"unknown field", model_text("  <vendor>GenuineIntel</vendor>\n  <numeric>\n    <field name='speed' value='1'/>\n"
                                     "  </numeric>\n  <features/>\n"), "T-v1.xml:4: "},
        {"unknown feature", model_text("  <vendor>GenuineIntel</vendor>\n  <features>\n    <feature name='warp-drive'/>\n"
                                       "  </features>\n"), "T-v1.xml:5: unknown feature 'warp-drive'"},
        {"twice", model_text("  <vendor>GenuineIntel</vendor>\n  <features>\n    <feature name='fpu'/>\n"
                             "    <feature name='fpu'/>\n  </features>\n"), "T-v1.xml:6: feature 'fpu' listed twice"},
        {"version 0", model_text(good_body, "T", "0"), "T-v1.xml:2: "},
        {"bad value", model_text("  <vendor>GenuineIntel</vendor>\n  <numeric>\n    <field name='xcr0' value='lots'/>\n"
                                 "  </numeric>\n  <features/>\n"), "T-v1.xml:4: "},
        {"broken XML", "<cpu-model name='T' version='1'>\n<vendor>\n", "T-v1.xml:3: "},
    };
    for ( const auto &r : rows )
    {
        Model m;
        std::string err;
        int rc = read_model_text(m, r.text, "T-v1.xml", &err);
        if ( !EXPECT_EQ(-EINVAL, rc) )
            std::printf("        (%s)\n", r.what);
        EXPECT_EQ(std::string(r.expect), err.substr(0, strlen(r.expect)));
    }
    // A file must be named after the model it holds.
    std::string path = tmpdir() + "/Other-v3.xml";
    write(path, model_text(good_body));
    Model m;
    std::string err;
    EXPECT_RC(-EINVAL, read_model_file(m, path, &err));
    EXPECT_EQ(path + ":2: model T-v1 must be in a file named T-v1.xml", err);
}

TEST(model_files_round_trip_and_state_their_fields)
{
    Model m;
    std::string err;
    EXPECT_RC(0, read_model_text(m, model_text(good_body, "Round", "7"), "Round-v7.xml", &err));
    EXPECT_EQ(std::string("Round-v7"), m.name);
    EXPECT_EQ(7u, m.version);
    EXPECT_EQ(1u << F_PHYS_ADDR_BITS, m.field_mask);
    EXPECT_EQ(uint64_t{46}, m.fields[F_PHYS_ADDR_BITS]);
    EXPECT_EQ(4u, m.features.count());
    Model back;
    EXPECT_RC(0, read_model_text(back, model_to_xml(m), "Round-v7.xml", &err));
    EXPECT_EQ(m.features, back.features);
    EXPECT_EQ(m.field_mask, back.field_mask);
    EXPECT_EQ(model_to_xml(m), model_to_xml(back));
    std::string base;
    unsigned v = 0;
    EXPECT_TRUE(split_versioned("EPYC-Rome-v12", &base, &v) && base == "EPYC-Rome" && v == 12);
    EXPECT_TRUE(!split_versioned("Haswell", &base, &v));
    EXPECT_TRUE(!split_versioned("X-v0", &base, &v));
}

// --- against real hosts ---------------------------------------------------------------------
namespace {

bool host_max(const char *dump, Policy &out, const char *boot = nullptr)
{
    Policy raw;
    if ( !import_policy(dump_path(dump), raw) )
        return false;
    return policy_derive(out, raw, PolicyIndex::hvm_max, boot) == 0;
}

Model from_dump(const char *dump, const char *name, const char *boot = nullptr)
{
    Policy p{};
    host_max(dump, p, boot);
    return model_from_policy(p, name, 1);
}

} // namespace

TEST(check_lists_every_blocker_vendor_features_and_fields_with_both_values)
{
    Model icx = from_dump("GenuineIntel00606A6_ICX_04.txt", "ICX");
    Policy hsw{}, milan{};
    EXPECT_TRUE(host_max("GenuineIntel00306F2_HaswellEP.txt", hsw));
    EXPECT_TRUE(host_max("AuthenticAMD0A00F11_K19_Milan_02.txt", milan));
    // Own host: nothing blocks.
    Policy own{};
    EXPECT_TRUE(host_max("GenuineIntel00606A6_ICX_04.txt", own));
    EXPECT_EQ(size_t{0}, check(icx, own).size());
    // Haswell: every missing feature, then the XCR0 components (AVX-512 state) - and the
    // features listed are exactly the model's minus the host's.
    std::vector<Blocker> b = check(icx, hsw);
    Featureset listed;
    bool xcr0 = false;
    for ( const auto &x : b )
        if ( x.kind == Blocker::feature )
            listed.set(Feature{x.id});
        else if ( x.kind == Blocker::field && x.id == F_XCR0 )
        {
            xcr0 = true;
            EXPECT_EQ(icx.fields[F_XCR0], x.model_value);
            uint64_t v[NR_FIELDS];
            policy_fields(hsw, v);
            EXPECT_EQ(v[F_XCR0], x.level_value);
        }
    EXPECT_EQ(icx.features.and_not(policy_effective_featureset(hsw)).and_not(features::or_mask), listed);
    EXPECT_TRUE(listed.test(Feature{num("avx512f")}));
    EXPECT_TRUE(xcr0);
    // Another vendor: the vendor is the first blocker.
    b = check(icx, milan);
    EXPECT_TRUE(!b.empty() && b[0].kind == Blocker::vendor && b[0].model_text == "GenuineIntel" &&
                b[0].level_text == "AuthenticAMD");
    // A field alone: the same model claiming one more physical address bit.
    Model wide = icx;
    wide.fields[F_PHYS_ADDR_BITS] = icx.fields[F_PHYS_ADDR_BITS] + 1;
    b = check(wide, own);
    EXPECT_EQ(size_t{1}, b.size());
    if ( b.size() == 1 )
    {
        EXPECT_EQ(std::string("phys-addr-bits"), b[0].name);
        EXPECT_EQ(icx.fields[F_PHYS_ADDR_BITS] + 1, b[0].model_value);
        EXPECT_EQ(icx.fields[F_PHYS_ADDR_BITS], b[0].level_value);
    }
}

TEST(tsx_removal_a_new_version_runs_where_the_old_one_is_blocked)
{
    Model v1 = from_dump("GenuineIntel0050654_SkylakeXeon.txt", "Skx");
    Model v2 = from_dump("GenuineIntel0050654_SkylakeXeon.txt", "Skx", "cpuid=no-hle,no-rtm");
    Policy updated{};
    EXPECT_TRUE(host_max("GenuineIntel0050654_SkylakeXeon.txt", updated, "cpuid=no-hle,no-rtm"));
    std::set<std::string> names;
    for ( const auto &x : check(v1, updated) )
        names.insert(x.name);
    EXPECT_TRUE(names.count("hle") && names.count("rtm"));
    EXPECT_EQ(size_t{0}, check(v2, updated).size());
}

TEST(suggest_picks_the_most_capable_runnable_model_and_the_delta)
{
    Catalog c;
    c.models.push_back(from_dump("GenuineIntel00306F2_HaswellEP.txt", "Hsw"));
    c.models.push_back(from_dump("GenuineIntel0050654_SkylakeXeon.txt", "Skx"));
    c.models.push_back(from_dump("GenuineIntel00606A6_ICX_04.txt", "Icx"));
    c.models.push_back(from_dump("AuthenticAMD0A00F11_K19_Milan_02.txt", "Milan"));
    Policy clx{};
    EXPECT_TRUE(host_max("GenuineIntel0050657_CascadeLakeXeon.txt", clx));
    Suggestion s;
    EXPECT_RC(0, suggest(c, SOURCE_ALL, clx, false, &s));
    EXPECT_EQ(std::string("Skx-v1"), s.index >= 0 ? c.models[s.index].name : std::string("none"));
    Featureset lfs = policy_effective_featureset(clx) & features::known;
    EXPECT_EQ(lfs.and_not(c.models[1].features), s.add);
    EXPECT_TRUE(s.add.test(Feature{num("avx512-vnni")}));  // what Cascade Lake adds to Skylake
    EXPECT_TRUE(s.lacks.empty());
    // Nothing Intel runs on an AMD level: -ENOENT from RUNNABLE over Intel models only.
    Catalog intel;
    intel.models.assign(c.models.begin(), c.models.begin() + 3);
    Policy rome{};
    EXPECT_TRUE(host_max("AuthenticAMD0830F10_K17_Rome.txt", rome));
    EXPECT_RC(-ENOENT, suggest(intel, SOURCE_ALL, rome, false, &s));
}

TEST(apply_sets_the_model_and_refuses_another_vendor)
{
    Model skx = from_dump("GenuineIntel0050654_SkylakeXeon.txt", "Skx");
    // Cascade Lake runs everything Skylake has (MPX's xsave components included).
    Policy clx{}, milan{};
    EXPECT_TRUE(host_max("GenuineIntel0050657_CascadeLakeXeon.txt", clx));
    EXPECT_TRUE(host_max("AuthenticAMD0A00F11_K19_Milan_02.txt", milan));
    Policy p = clx;
    std::string why;
    EXPECT_RC(0, apply(skx, p, &why));
    Featureset got = policy_effective_featureset(p) & features::known;
    EXPECT_EQ(skx.features.and_not(features::special), got.and_not(features::special));
    uint64_t v[NR_FIELDS];
    policy_fields(p, v);
    for ( unsigned f = 0; f < NR_FIELDS; ++f )
        if ( f != F_XSS )  // XSS follows the features (none on this dump's max policy)
            EXPECT_EQ(skx.fields[f], v[f]);
    EXPECT_EQ(0x50654u, get(p, Leaf{1}).a & 0x0fff0fffu);
    EXPECT_EQ(size_t{0}, check(skx, p).size());  // the applied policy runs the model
    Policy q = milan;
    EXPECT_RC(-EINVAL, apply(skx, q, &why));
    EXPECT_TRUE(q == milan);
    EXPECT_EQ(std::string("model Skx-v1 is a GenuineIntel CPU, the policy's vendor is AuthenticAMD"), why);
}

TEST(libvirt_export_validates_against_debian_libvirts_domain_schema)
{
    Catalog c;
    std::string err;
    int rc = load_cpu_map(c.map, "", &err);
    EXPECT_RC(0, rc);
    if ( rc )
        return;
    c.has_map = true;
    c.models = c.map.models;
    c.models.push_back(from_dump("GenuineIntel00806F8_SapphireRapids_05.txt", "Spr"));
    c.models.push_back(from_dump("AuthenticAMD0A10F11_K19_Genoa_01.txt", "Genoa"));
    xmlRelaxNGParserCtxtPtr pc = xmlRelaxNGNewParserCtxt("/usr/share/libvirt/schemas/domain.rng");
    xmlRelaxNGPtr schema = xmlRelaxNGParse(pc);
    xmlRelaxNGFreeParserCtxt(pc);
    EXPECT_TRUE(schema != nullptr);
    if ( !schema )
        return;
    unsigned nr_valid = 0;
    for ( const Model &m : c.models )
    {
        std::string cpu, why;
        if ( !EXPECT_EQ(0, export_model(c, m, ExportFormat::libvirt, &cpu, &why)) )
            continue;
        std::string dom = "<domain type='kvm'>\n  <name>t</name>\n  <memory>1024</memory>\n"
                          "  <os><type arch='x86_64'>hvm</type></os>\n" + cpu + "</domain>\n";
        xmlDocPtr d = xmlReadMemory(dom.data(), static_cast<int>(dom.size()), "export.xml", nullptr,
                                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        xmlRelaxNGValidCtxtPtr vc = xmlRelaxNGNewValidCtxt(schema);
        xmlRelaxNGSetValidStructuredErrors(vc, [](void *, xmlErrorPtr) {}, nullptr);
        int v = d ? xmlRelaxNGValidateDoc(vc, d) : -1;
        xmlRelaxNGFreeValidCtxt(vc);
        xmlFreeDoc(d);
        if ( !EXPECT_EQ(0, v) )
            std::printf("        %s:\n%s", m.name.c_str(), dom.c_str());
        nr_valid += v == 0;
    }
    xmlRelaxNGFree(schema);
    EXPECT_EQ(c.models.size(), size_t{nr_valid});
    // The exported feature set is the model's: over base B, require adds and disable
    // removes exactly the difference (names through the map).
    const Model &spr = c.models[c.models.size() - 2];
    std::string cpu, why;
    EXPECT_RC(0, export_model(c, spr, ExportFormat::libvirt, &cpu, &why));
    size_t b = cpu.find("<model fallback='forbid'>"), e = cpu.find("</model>");
    std::string base = cpu.substr(b + 25, e - b - 25);
    int bi = find_model(c, base, SOURCE_ALL);
    EXPECT_TRUE(bi >= 0);
    if ( bi < 0 )
        return;
    Featureset got = c.models[bi].features;
    for ( size_t pos = 0; (pos = cpu.find("<feature policy='", pos)) != std::string::npos; ++pos )
    {
        bool req = cpu.compare(pos + 17, 7, "require") == 0;
        size_t n = cpu.find("name='", pos) + 6;
        std::string name = cpu.substr(n, cpu.find('\'', n) - n);
        const LibvirtFeature *f = c.map.feature(name);
        if ( f && f->feature != ~0u )
            req ? got.set(Feature{f->feature}) : got.clear(Feature{f->feature});
    }
    Featureset expressible;
    for ( uint32_t f : each(spr.features) )
        if ( c.map.feature_for(f) )
            expressible.set(Feature{f});
    EXPECT_EQ(expressible, got.and_not(c.models[bi].features.and_not(spr.features)) | (got & expressible));
    EXPECT_EQ(expressible, got & expressible);
}

int main() { return unittest::run_all("test_models"); }
