// SPDX-License-Identifier: MIT
// The unix backend's timeout is per call, not per read (backend_unix.hpp; issue 11
// robustness item 10): a fake daemon that answers hello, then sends each reply one byte
// at a time with a pause shorter than the timeout, must not hold a call past it.  And a
// prompt daemon is still answered, however many calls.
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "backend_unix.hpp"
#include "harness.hpp"

using namespace cpupolicy;

namespace {

// A one-connection daemon speaking just enough of the protocol: hello, then
// get_levelling_caps answered with caps 5, each reply byte `gap_ms` after the last.
class FakeDaemon {
public:
    explicit FakeDaemon(int gap_ms) : gap_ms_(gap_ms)
    {
        char tmpl[] = "/tmp/test_backend_unix.XXXXXX";
        dir_ = mkdtemp(tmpl);
        path_ = dir_ + "/fake.sock";
        lfd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        strncpy(sa.sun_path, path_.c_str(), sizeof(sa.sun_path) - 1);
        if ( bind(lfd_, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) != 0 || listen(lfd_, 4) != 0 )
            path_.clear();
        thread_ = std::thread([this] { serve(); });
    }
    ~FakeDaemon()
    {
        stop_ = true;
        shutdown(lfd_, SHUT_RDWR);
        thread_.join();
        close(lfd_);
        unlink(path_.c_str());
        rmdir(dir_.c_str());
    }
    const std::string &path() const { return path_; }

private:
    bool read_frame(int fd, proto::Header &h, std::vector<uint8_t> &payload)
    {
        uint8_t hb[proto::HEADER_SIZE];
        size_t got = 0;
        while ( got < sizeof(hb) )
        {
            ssize_t r = recv(fd, hb + got, sizeof(hb) - got, 0);
            if ( r <= 0 )
                return false;
            got += size_t(r);
        }
        if ( proto::decode_header(hb, sizeof(hb), h) )
            return false;
        payload.resize(h.len);
        got = 0;
        while ( got < h.len )
        {
            ssize_t r = recv(fd, payload.data() + got, h.len - got, 0);
            if ( r <= 0 )
                return false;
            got += size_t(r);
        }
        return true;
    }

    void serve()
    {
        int fd = accept(lfd_, nullptr, nullptr);
        if ( fd < 0 )
            return;
        proto::Header h;
        std::vector<uint8_t> payload;
        for ( bool first = true; !stop_ && read_frame(fd, h, payload); first = false )
        {
            proto::Request q;
            if ( proto::decode_request(h, payload.data(), payload.size(), q) )
                break;
            proto::Reply r;
            r.op = q.op;
            r.id = q.id;
            r.has_body = true;
            r.value = 5;
            std::vector<uint8_t> f;
            if ( proto::encode_reply(r, f) )
                break;
            if ( first )  // hello: at once
            {
                if ( send(fd, f.data(), f.size(), MSG_NOSIGNAL) != ssize_t(f.size()) )
                    break;
                continue;
            }
            for ( uint8_t b : f )
            {
                if ( stop_ || send(fd, &b, 1, MSG_NOSIGNAL) != 1 )
                    break;
                poll(nullptr, 0, gap_ms_);
            }
        }
        close(fd);
    }

    int gap_ms_;
    std::string dir_, path_;
    int lfd_ = -1;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

} // namespace

TEST(a_daemon_trickling_its_reply_cannot_hold_a_call_past_the_timeout)
{
    // 44 reply bytes, 50 ms apart: 2.2 s in all, every single read well inside 300 ms.
    FakeDaemon fake(50);
    REQUIRE_RC(0, fake.path().empty() ? -1 : 0);
    std::unique_ptr<Backend> b;
    std::string why;
    REQUIRE_RC(0, UnixBackend::open(fake.path(), b, why, 300));
    uint32_t caps = 0;
    EXPECT_RC(-ETIMEDOUT, b->get_levelling_caps(&caps));
    EXPECT_EQ(0u, caps);
}

TEST(a_prompt_daemon_is_answered)
{
    FakeDaemon fake(0);
    REQUIRE_RC(0, fake.path().empty() ? -1 : 0);
    std::unique_ptr<Backend> b;
    std::string why;
    REQUIRE_RC(0, UnixBackend::open(fake.path(), b, why, 2000));
    for ( int i = 0; i < 3; ++i )
    {
        uint32_t caps = 0;
        EXPECT_RC(0, b->get_levelling_caps(&caps));
        EXPECT_EQ(5u, caps);
    }
}

int main() { return unittest::run_all("test_backend_unix"); }
