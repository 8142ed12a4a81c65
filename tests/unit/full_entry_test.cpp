#include "policy/full_entry.hpp"

#include <gtest/gtest.h>

namespace aep {
namespace {

using kind = full_entry::step::kind;
using namespace std::chrono_literals;

retry_config retries() {
    retry_config r;
    r.max_attempts = 3;
    r.initial_backoff = 100ms;
    r.max_backoff = 1s;
    return r;
}

track_config tracking() {
    track_config t;
    t.poll_initial = 1s;
    t.poll_max = 8s;
    t.max_wait = 60s;
    return t;
}

call_answer ok(unsigned s = 200) {
    call_answer a;
    a.status = s;
    return a;
}

batch_status status(const char* s) {
    batch_status b;
    b.status = s;
    b.k = classify_status(s);
    return b;
}

TEST(FullEntry, FilesStartWithinTheSlotsThenTheBatchIsCompletedAndFollowed) {
    full_entry e(retries(), tracking(), {false, true, false, false});
    EXPECT_EQ(e.next().k, kind::upload);
    EXPECT_EQ(e.startable(2), (std::vector<std::size_t>{0, 2})) << "file 1 is in already";
    EXPECT_EQ(e.startable(5), (std::vector<std::size_t>{3}));
    EXPECT_EQ(e.files_in_flight(), 3u);
    e.file_done(0);
    e.file_returned(2);  // a stop: it may start again
    EXPECT_EQ(e.startable(5), (std::vector<std::size_t>{2}));
    e.file_done(2);
    e.file_done(3);
    EXPECT_EQ(e.next().k, kind::complete);
    auto s = e.on_complete(ok(), 1'000'000, 0.5);
    EXPECT_EQ(s.k, kind::poll);
    EXPECT_EQ(s.delay, 1s) << "track.poll_initial after the COMPLETE";
    EXPECT_EQ(e.completed_ms(), 1'000'000);
    // Polls back off, with jitter over their upper half, to poll_max.
    std::vector<std::int64_t> delays;
    std::int64_t now = 1'001'000;
    for (int i = 0; i < 6; ++i) {
        s = e.on_status(ok(), status("processing"), now, 1.0);
        ASSERT_EQ(s.k, kind::poll);
        delays.push_back(s.delay.count());
        now += s.delay.count();
    }
    EXPECT_EQ(delays, (std::vector<std::int64_t>{2000, 4000, 8000, 8000, 8000, 8000}));
    EXPECT_EQ(e.on_status(ok(), status("processing"), now, 0.0).delay, 4s) << "half at jitter 0";
    s = e.on_status(ok(), status("success"), now, 0.5);
    EXPECT_EQ(s.k, kind::finished);
    EXPECT_EQ(s.status.status, "success");
}

TEST(FullEntry, EveryFinalStatusEndsTheEntryAndStalledIsToldOnce) {
    for (const char* final_status : {"success", "active", "inactive", "deleted", "failed",
                                     "failure", "aborted", "abandoned"}) {
        full_entry e(retries(), tracking(), {true}, 0);
        EXPECT_EQ(e.next().k, kind::poll) << "resumed while tracking: asked at once";
        EXPECT_EQ(e.on_status(ok(), status(final_status), 1000, 0.5).k, kind::finished)
            << final_status;
    }
    full_entry e(retries(), tracking(), {true}, 0);
    auto s = e.on_status(ok(), status("stalled"), 1000, 0.5);
    EXPECT_EQ(s.k, kind::poll);
    EXPECT_TRUE(s.stalled);
    EXPECT_FALSE(e.on_status(ok(), status("stalled"), 2000, 0.5).stalled) << "once";
}

TEST(FullEntry, TrackingStopsAtMaxWait) {
    full_entry e(retries(), tracking(), {true}, 0);
    auto s = e.on_status(ok(), status("processing"), 59'000, 1.0);
    EXPECT_EQ(s.k, kind::poll);
    EXPECT_EQ(s.delay, 1s) << "one last look at the deadline";
    s = e.on_status(ok(), status("processing"), 60'000, 1.0);
    EXPECT_EQ(s.k, kind::failed);
    EXPECT_EQ(s.stage, entry_stage::track);
    EXPECT_NE(s.reason.find("not final after track.max_wait (60 s)"), std::string::npos) << s.reason;
}

TEST(FullEntry, CompleteAndStatusRequestsHaveTheirOwnAttempts) {
    full_entry e(retries(), tracking(), {true});
    call_answer busy = ok(503);
    auto s = e.on_complete(busy, 0, 0.5);
    EXPECT_EQ(s.k, kind::wait);
    call_answer reset;
    reset.transport_error = "network error: connection reset";
    EXPECT_EQ(e.on_complete(reset, 0, 0.5).k, kind::wait);
    s = e.on_complete(ok(), 10, 0.5);
    ASSERT_EQ(s.k, kind::poll);
    // The polls count afresh: two failures, then an answer.
    EXPECT_EQ(e.on_status(reset, {}, 1000, 0.5).k, kind::wait);
    EXPECT_EQ(e.on_status(ok(), batch_status{}, 1100, 0.5).k, kind::wait) << "not a status";
    EXPECT_EQ(e.on_status(ok(), status("success"), 1200, 0.5).k, kind::finished);
    // A permanent refusal of the COMPLETE fails the entry at that stage; 401 is refreshed once.
    full_entry f(retries(), tracking(), {true});
    s = f.on_complete(ok(401), 0, 0.5);
    EXPECT_EQ(s.k, kind::complete);
    EXPECT_TRUE(s.drop_token);
    s = f.on_complete(ok(400), 0, 0.5);
    EXPECT_EQ(s.k, kind::failed);
    EXPECT_EQ(s.stage, entry_stage::complete);
    EXPECT_EQ(s.reason.rfind("COMPLETE refused: HTTP 400", 0), 0u) << s.reason;
    full_entry g(retries(), tracking(), {true});
    for (int i = 0; i < 2; ++i) EXPECT_EQ(g.on_complete(busy, 0, 0.5).k, kind::wait);
    s = g.on_complete(busy, 0, 0.5);
    EXPECT_EQ(s.k, kind::failed);
    EXPECT_EQ(s.reason, "COMPLETE gave up after 3 attempts: HTTP 503");
}

}  // namespace
}  // namespace aep
