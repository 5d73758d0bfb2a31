// SPDX-License-Identifier: MIT
#include "xml_util.hpp"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

namespace cpupolicy::models {

std::string where(const std::string &file, long line, const std::string &what)
{
    if ( line > 0 )
        return file + ":" + std::to_string(line) + ": " + what;
    return file + ": " + what;
}

namespace xml {

namespace {

constexpr int parse_flags = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                            XML_PARSE_BIG_LINES;

struct CtxtFree {
    void operator()(xmlParserCtxt *c) const { xmlFreeParserCtxt(c); }
};

std::string trimmed_message(const xmlError *e)
{
    std::string m = e && e->message ? e->message : "malformed XML";
    while ( !m.empty() && (m.back() == '\n' || m.back() == ' ') )
        m.pop_back();
    return m;
}

// The first error of a parse (libxml2's last one is often only "Premature end of data").
struct FirstError {
    bool seen = false;
    long line = 0;
    std::string msg;
    static void handler(void *data, xmlErrorPtr e)
    {
        auto *self = static_cast<FirstError *>(data);
        if ( self->seen || !e || e->level < XML_ERR_ERROR )
            return;
        self->seen = true;
        self->line = e->line;
        self->msg = trimmed_message(e);
    }
};

// libxml2's structured error handler is per thread; set it for one parse only.
template <typename F> xmlDoc *parse_catching(FirstError &fe, F parse)
{
    xmlStructuredErrorFunc old_fn = xmlStructuredError;
    void *old_ctx = xmlStructuredErrorContext;
    xmlSetStructuredErrorFunc(&fe, FirstError::handler);
    xmlDoc *d = parse();
    xmlSetStructuredErrorFunc(old_ctx, old_fn);
    return d;
}

int finish(xmlParserCtxt *ctxt, xmlDoc *d, const FirstError &fe, const std::string &name,
           DocPtr &doc, std::string *err)
{
    if ( d && ctxt->wellFormed )
    {
        doc.reset(d);
        return 0;
    }
    if ( d )
        xmlFreeDoc(d);
    const xmlError *e = xmlCtxtGetLastError(ctxt);
    if ( err )
        *err = fe.seen ? where(name, fe.line, fe.msg) : where(name, e ? e->line : 0, trimmed_message(e));
    return -EINVAL;
}

} // namespace

int read_file(const std::string &path, DocPtr &doc, std::string *err)
{
    if ( access(path.c_str(), R_OK) != 0 )
    {
        int rc = errno == EACCES ? -EACCES : -ENOENT;
        if ( err )
            *err = where(path, 0, rc == -EACCES ? "permission denied" : "no such file");
        return rc;
    }
    std::unique_ptr<xmlParserCtxt, CtxtFree> ctxt(xmlNewParserCtxt());
    if ( !ctxt )
        return -ENOMEM;
    FirstError fe;
    xmlDoc *d = parse_catching(fe, [&] { return xmlCtxtReadFile(ctxt.get(), path.c_str(), nullptr, parse_flags); });
    return finish(ctxt.get(), d, fe, path, doc, err);
}

int read_memory(const std::string &text, const std::string &name, DocPtr &doc, std::string *err)
{
    std::unique_ptr<xmlParserCtxt, CtxtFree> ctxt(xmlNewParserCtxt());
    if ( !ctxt )
        return -ENOMEM;
    FirstError fe;
    xmlDoc *d = parse_catching(fe, [&] {
        return xmlCtxtReadMemory(ctxt.get(), text.data(), static_cast<int>(text.size()), name.c_str(),
                                 nullptr, parse_flags);
    });
    return finish(ctxt.get(), d, fe, name, doc, err);
}

bool attr(const xmlNode *n, const char *name, std::string *out)
{
    for ( const xmlAttr *a = n->properties; a; a = a->next )
        if ( !xmlStrcmp(a->name, reinterpret_cast<const xmlChar *>(name)) )
        {
            xmlChar *v = xmlNodeListGetString(n->doc, a->children, 1);
            *out = v ? reinterpret_cast<const char *>(v) : "";
            xmlFree(v);
            return true;
        }
    return false;
}

int only_attrs(const xmlNode *n, std::initializer_list<const char *> allowed,
               const std::string &file, std::string *err)
{
    for ( const xmlAttr *a = n->properties; a; a = a->next )
    {
        bool ok = false;
        for ( const char *x : allowed )
            ok = ok || !xmlStrcmp(a->name, reinterpret_cast<const xmlChar *>(x));
        if ( !ok )
        {
            if ( err )
                *err = where(file, line_of(n),
                             "unknown attribute '" +
                                 std::string(reinterpret_cast<const char *>(a->name)) +
                                 "' on <" + name_of(n) + ">");
            return -EINVAL;
        }
    }
    return 0;
}

int need_attr(const xmlNode *n, const char *name, const std::string &file, std::string *out,
              std::string *err)
{
    if ( attr(n, name, out) )
        return 0;
    if ( err )
        *err = where(file, line_of(n), "<" + name_of(n) + "> needs attribute '" + name + "'");
    return -EINVAL;
}

bool parse_u64(const std::string &s, uint64_t *v)
{
    if ( s.empty() || s[0] == '-' || s[0] == '+' || s[0] == ' ' )
        return false;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s.c_str(), &end, 0);
    if ( errno || *end )
        return false;
    *v = x;
    return true;
}

bool parse_u32(const std::string &s, uint32_t *v)
{
    uint64_t x;
    if ( !parse_u64(s, &x) || x > 0xffffffffu )
        return false;
    *v = static_cast<uint32_t>(x);
    return true;
}

std::string text_of(const xmlNode *n)
{
    xmlChar *c = xmlNodeGetContent(n);
    std::string s = c ? reinterpret_cast<const char *>(c) : "";
    xmlFree(c);
    size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::string escape(const std::string &s)
{
    std::string o;
    for ( char c : s )
        switch ( c ) {
        case '&': o += "&amp;"; break;
        case '<': o += "&lt;"; break;
        case '>': o += "&gt;"; break;
        case '"': o += "&quot;"; break;
        case '\'': o += "&apos;"; break;
        default: o += c;
        }
    return o;
}

} // namespace xml
} // namespace cpupolicy::models
