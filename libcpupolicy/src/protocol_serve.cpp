// SPDX-License-Identifier: MIT
// The server half of the protocol: one decoded request answered from a Backend.
#include <errno.h>

#include "backend.hpp"
#include "serve.hpp"

namespace cpupolicy::proto {

void serve(Backend &b, const Request &q, Reply &r)
{
    r = Reply{};
    r.op = q.op;
    r.id = q.id;
    const uint32_t *words = q.words.empty() ? nullptr : q.words.data();
    const uint32_t nr_words = static_cast<uint32_t>(q.words.size());

    switch ( q.op )
    {
    case Op::hello:
        r.has_body = true;
        break;

    case Op::get_featureset:
        if ( q.nr == NR_QUERY )
        {
            uint32_t nr = 0;
            r.rc = b.get_featureset(q.arg, &nr, nullptr);
            if ( r.rc == 0 )
            {
                r.has_body = r.count_only = true;
                r.nr = nr;
            }
        }
        else
        {
            // The hypervisor copies min(nr, NR_FEATUREWORDS) words; MAX_FS_WORDS is above
            // that, so clamping here changes nothing but bounds the buffer.
            uint32_t nr = q.nr < MAX_FS_WORDS ? q.nr : MAX_FS_WORDS;
            std::vector<uint32_t> fs(nr ? nr : 1);
            r.rc = b.get_featureset(q.arg, &nr, fs.data());
            if ( r.rc == 0 || r.rc == -ENOBUFS )
            {
                fs.resize(nr <= fs.size() ? nr : fs.size());
                r.has_body = true;
                r.words = std::move(fs);
                r.nr = static_cast<uint32_t>(r.words.size());
            }
        }
        break;

    case Op::get_system_policy:
    case Op::get_domain_policy:
    {
        Policy p{};
        r.rc = q.op == Op::get_system_policy ? b.get_system_policy(q.arg, p)
                                             : b.get_domain_policy(q.arg, p);
        if ( r.rc == 0 )
        {
            r.rc = policy_to_wire(p, r.policy);
            r.has_body = r.rc == 0;
        }
        break;
    }

    case Op::get_levelling_caps:
        r.rc = b.get_levelling_caps(&r.value);
        r.has_body = r.rc == 0;
        break;

    case Op::featureset_fits_max:
        r.value = ~0u;
        r.rc = b.featureset_fits_max(q.arg, words, nr_words, &r.value);
        r.has_body = true;
        break;

    case Op::domain_create:
        r.rc = b.domain_create(q.arg, &r.value);
        r.has_body = r.rc == 0;
        break;

    case Op::domain_start:
        r.rc = b.domain_start(q.arg);
        break;

    case Op::domain_destroy:
        r.rc = b.domain_destroy(q.arg);
        break;

    case Op::set_domain_policy:
    {
        Policy p{};
        r.rc = wire_to_policy(q.policy, p, &r.err);
        if ( r.rc == 0 )
            r.rc = b.set_domain_policy(q.arg, p, &r.err);
        break;
    }

    case Op::set_featureset:
        r.rc = b.set_featureset(q.arg, words, nr_words, &r.err);
        break;

    default:
        r.rc = -EOPNOTSUPP;
        break;
    }
}

} // namespace cpupolicy::proto
