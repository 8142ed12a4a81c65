#include "policy/file_upload.hpp"

#include <gtest/gtest.h>

namespace aep {
namespace {

using req = file_upload::request;
using kind = file_upload::step::kind;

upload_config small_limits() {
    upload_config u;
    u.large_file_threshold = 100;
    u.part_size = 40;
    return u;
}

retry_config retries(int n) {
    retry_config r;
    r.max_attempts = n;
    r.initial_backoff = std::chrono::milliseconds(100);
    r.max_backoff = std::chrono::milliseconds(1000);
    return r;
}

call_answer status(unsigned s, std::string range = {}) {
    call_answer a;
    a.status = s;
    a.range = std::move(range);
    return a;
}

call_answer lost() {
    call_answer a;
    a.transport_error = "network error: connection reset";
    return a;
}

TEST(FileUpload, ASmallFileIsOnePut) {
    file_upload u(small_limits(), retries(3), 100);
    EXPECT_FALSE(u.large());
    EXPECT_EQ(u.next().what, req::put);
    EXPECT_EQ(u.on_answer(status(201), 0.5).k, kind::done);
    EXPECT_EQ(u.bytes_confirmed(), 100u);
}

TEST(FileUpload, TransientFailuresWaitAndGiveUpAtTheLimit) {
    file_upload u(small_limits(), retries(3), 10);
    auto s = u.on_answer(status(503), 0.999);
    EXPECT_EQ(s.k, kind::wait);
    EXPECT_EQ(s.what, req::put);
    EXPECT_GT(s.delay.count(), 0);
    call_answer limited = status(429);
    limited.retry_after = std::chrono::seconds(7);
    s = u.on_answer(limited, 0.0);
    EXPECT_EQ(s.k, kind::wait);
    EXPECT_TRUE(s.slow_down);
    EXPECT_GE(s.delay, std::chrono::seconds(7)) << "Retry-After is honoured";
    s = u.on_answer(lost(), 0.5);
    EXPECT_EQ(s.k, kind::failed);
    EXPECT_EQ(s.reason, "PUT gave up after 3 attempts: network error: connection reset");
}

TEST(FileUpload, PermanentAnswersFailAtOnceAnd401IsRefreshedOnce) {
    file_upload a(small_limits(), retries(5), 10);
    auto s = a.on_answer(status(415), 0.5);
    EXPECT_EQ(s.k, kind::failed);
    EXPECT_EQ(s.http_status, 415u);
    file_upload b(small_limits(), retries(5), 10);
    s = b.on_answer(status(401), 0.5);
    EXPECT_EQ(s.k, kind::send);
    EXPECT_TRUE(s.drop_token);
    EXPECT_EQ(b.on_answer(status(401), 0.5).k, kind::failed);
}

TEST(FileUpload, ALargeFileGoesByPartsThatCoverItOnceThenComplete) {
    file_upload u(small_limits(), retries(3), 101);
    ASSERT_TRUE(u.large());
    EXPECT_EQ(u.next().what, req::initialize);
    auto s = u.on_answer(status(201), 0.5);
    std::vector<std::pair<std::uint64_t, std::uint64_t>> parts;
    while (s.what == req::part) {
        parts.emplace_back(s.first, s.last);
        s = u.on_answer(status(200), 0.5);
    }
    EXPECT_EQ(parts, (std::vector<std::pair<std::uint64_t, std::uint64_t>>{{0, 39}, {40, 79}, {80, 100}}));
    EXPECT_EQ(s.what, req::complete);
    EXPECT_EQ(u.on_answer(status(200), 0.5).k, kind::done);
}

TEST(FileUpload, APartWhoseAnswerIsLostIsAskedAboutNeverResentBlind) {
    file_upload u(small_limits(), retries(3), 120);
    u.on_answer(status(201), 0.5);             // INITIALIZE
    auto s = u.on_answer(status(200), 0.5);    // part 0-39
    ASSERT_EQ(s.first, 40u);
    s = u.on_answer(lost(), 0.5);              // part 40-79: reset half-way
    EXPECT_EQ(s.k, kind::wait);
    EXPECT_EQ(s.what, req::head);
    // The server kept 40-59 of it: the next part starts at 60.
    s = u.on_answer(status(200, "bytes=0-59"), 0.5);
    EXPECT_EQ(s.what, req::part);
    EXPECT_EQ(s.first, 60u);
    EXPECT_EQ(s.last, 99u);
    s = u.on_answer(status(200), 0.5);
    EXPECT_EQ((std::pair{s.first, s.last}), (std::pair<std::uint64_t, std::uint64_t>{100, 119}));
    // A server that keeps resetting: given up after retry.max_attempts parts in a row.
    int rounds = 0;
    while (s.k != kind::failed && rounds++ < 20) {
        s = u.on_answer(lost(), 0.5);
        if (s.k == kind::wait && s.what == req::head) s = u.on_answer(status(200, "bytes=0-99"), 0.5);
    }
    EXPECT_EQ(s.k, kind::failed);
    EXPECT_LE(rounds, 3);
}

TEST(FileUpload, AResumedLargeFileStartsWithHead) {
    file_upload u(small_limits(), retries(3), 150, true);
    EXPECT_EQ(u.next().what, req::head);
    auto s = u.on_answer(status(200, "bytes=0-39,80-119"), 0.5);
    EXPECT_EQ((std::pair{s.first, s.last}), (std::pair<std::uint64_t, std::uint64_t>{40, 79}))
        << "the gap first, up to the range held";
    file_upload gone(small_limits(), retries(3), 150, true);
    EXPECT_EQ(gone.on_answer(status(404), 0.5).what, req::initialize)
        << "no such file at the server: begun again";
    file_upload garbled(small_limits(), retries(3), 150, true);
    EXPECT_EQ(garbled.on_answer(status(200, "bytes=zz"), 0.5).what, req::initialize);
    file_upload all(small_limits(), retries(3), 150, true);
    EXPECT_EQ(all.on_answer(status(200, "bytes=0-149"), 0.5).what, req::complete);
}

}  // namespace
}  // namespace aep
