// The create attempts stepped by hand through every row of the README's *Delivery* section:
// answers built with the real classify_create_response, the clock and the jitter passed in.
#include "policy/create_attempts.hpp"

#include <gtest/gtest.h>

using namespace aep;
using namespace std::chrono_literals;
using step = create_attempts::step;
using request = create_attempts::request;

namespace {

const auto t0 = std::chrono::steady_clock::time_point{} + 1000h;
const auto wall = std::chrono::system_clock::time_point{} + 24h * 20000;

retry_config limits(int max_attempts = 4) {
    retry_config r;
    r.max_attempts = max_attempts;
    r.initial_backoff = 1000ms;
    r.max_backoff = 60s;
    r.max_age = 1h;
    r.catalog_lag = 0ms;  // one look-up after an unknown outcome (the window has tests of its own)
    return r;
}

create_reply reply(unsigned status, std::string body = "{}", std::string retry_after = "") {
    create_reply r;
    r.status = status;
    r.result = classify_create_response(status, body, retry_after, wall);
    r.body_excerpt = body_excerpt(body);
    r.request_id = "req-" + std::to_string(status);
    return r;
}

create_reply created(const std::string& id = "b1") {
    return reply(201, R"({"id":")" + id + R"(","status":"loading","tags":{"acp_stagePath":["s/)" +
                          id + R"("]}})");
}

create_reply transport(bool sent) {
    create_reply r;
    r.transport_error = "timeout error: read timed out";
    r.request_sent = sent;
    return r;
}

lookup_result looked_up(lookup_result::kind k, const std::string& batch = "b0") {
    lookup_result r;
    r.outcome = k;
    if (k == lookup_result::kind::found) {
        r.batch.outcome = create_result::kind::created;
        r.batch.batch_id = batch;
    }
    if (k == lookup_result::kind::error) r.reason = "catalog look-up: HTTP 503";
    if (k == lookup_result::kind::unauthorized) r.reason = "catalog look-up: HTTP 401";
    return r;
}

create_attempts fresh(int max_attempts = 4) {
    return create_attempts(limits(max_attempts), first_request::create, "aepb-x", t0);
}

}  // namespace

TEST(CreateAttempts, A201WithAnIdIsDoneAfterOneRequest) {
    auto m = fresh();
    EXPECT_EQ(m.next(), request::create);
    const auto s = m.on_create(created("b1"), t0, 0.5);
    EXPECT_EQ(s.k, step::kind::created);
    EXPECT_EQ(s.batch.batch_id, "b1");
    EXPECT_EQ(s.batch.stage_path, "s/b1");
    EXPECT_EQ(s.noted, step::note::none);
    EXPECT_EQ(m.attempts(), 1);
}

TEST(CreateAttempts, AnUnreadable201IsAnUnknownOutcomeLookedUpBeforeAnyResend) {
    for (const std::string body : {"not json", R"({"status":"loading"})"}) {
        auto m = fresh();
        auto s = m.on_create(reply(201, body), t0, 0.0);
        EXPECT_EQ(s.k, step::kind::wait) << body;
        // Catalog may lag: at least one initial back-off, even with a zero jitter.
        EXPECT_GE(s.delay, 1000ms);
        EXPECT_EQ(m.next(), request::look_up);
        s = m.on_look_up(looked_up(lookup_result::kind::not_found), t0, 0.5);
        EXPECT_EQ(s.k, step::kind::again);
        EXPECT_EQ(m.next(), request::create);
        s = m.on_create(created(), t0 + 2s, 0.5);
        EXPECT_EQ(s.k, step::kind::created);
        EXPECT_EQ(m.attempts(), 2);
    }
}

TEST(CreateAttempts, AnUnknownOutcomeFoundInCatalogIsRecovered) {
    auto m = fresh();
    m.on_create(transport(true), t0, 0.5);
    ASSERT_EQ(m.next(), request::look_up);
    const auto s = m.on_look_up(looked_up(lookup_result::kind::found, "b7"), t0, 0.5);
    EXPECT_EQ(s.k, step::kind::recovered);
    EXPECT_EQ(s.batch.batch_id, "b7");
    EXPECT_EQ(m.attempts(), 1);
}

TEST(CreateAttempts, A401IsResentOnceAtOnceWithAFreshToken) {
    auto m = fresh();
    auto s = m.on_create(reply(401, R"({"error":"expired"})"), t0, 0.5);
    EXPECT_EQ(s.k, step::kind::again);
    EXPECT_TRUE(s.drop_token);
    EXPECT_EQ(s.noted, step::note::none);
    s = m.on_create(reply(401, R"({"error":"expired"})"), t0, 0.5);
    EXPECT_EQ(s.k, step::kind::failed);
    EXPECT_NE(s.why.reason.find("HTTP 401 twice in a row"), std::string::npos) << s.why.reason;
    EXPECT_NE(s.why.reason.find("platform.api_key"), std::string::npos);
    EXPECT_EQ(s.why.http_status, 401u);
    EXPECT_EQ(s.why.response_body, R"({"error":"expired"})");
    EXPECT_EQ(s.why.request_id, "req-401");
    EXPECT_EQ(m.attempts(), 2);
}

TEST(CreateAttempts, Two401sApartAreNotTwiceInARow) {
    auto m = fresh();
    EXPECT_EQ(m.on_create(reply(401), t0, 0.5).k, step::kind::again);
    EXPECT_EQ(m.on_create(reply(500), t0, 0.5).k, step::kind::wait);
    EXPECT_EQ(m.on_create(reply(401), t0, 0.5).k, step::kind::again);
    EXPECT_EQ(m.on_create(created(), t0, 0.5).k, step::kind::created);
}

TEST(CreateAttempts, TransientStatusesAndTransportErrorsAreRetriedWithBackoff) {
    for (unsigned status : {408u, 429u, 500u, 502u, 503u, 504u}) {
        auto m = fresh();
        const auto s = m.on_create(reply(status), t0, 0.999);
        EXPECT_EQ(s.k, step::kind::wait) << status;
        EXPECT_EQ(s.noted, step::note::create_failed);
        EXPECT_FALSE(s.note_reason.empty());
        // Full jitter below the first back-off, and the next request is a create again.
        EXPECT_LE(s.delay, 1000ms);
        EXPECT_GE(s.delay, 990ms);
        EXPECT_EQ(m.next(), request::create) << status;
    }
    auto m = fresh();
    const auto s = m.on_create(transport(false), t0, 0.0);
    EXPECT_EQ(s.k, step::kind::wait);
    EXPECT_EQ(s.delay, 0ms) << "never written: no look-up, nothing to wait for";
    EXPECT_EQ(m.next(), request::create);
}

TEST(CreateAttempts, BackoffDoublesUpToItsCap) {
    retry_config r = limits(20);
    r.max_backoff = 5s;
    create_attempts m(r, first_request::create, "aepb-x", t0);
    std::vector<std::chrono::milliseconds> delays;
    for (int i = 0; i < 5; ++i) delays.push_back(m.on_create(reply(500), t0, 0.9999).delay);
    EXPECT_NEAR(delays[0].count(), 1000, 1);
    EXPECT_NEAR(delays[1].count(), 2000, 1);
    EXPECT_NEAR(delays[2].count(), 4000, 1);
    EXPECT_NEAR(delays[3].count(), 5000, 1);
    EXPECT_NEAR(delays[4].count(), 5000, 1);
}

TEST(CreateAttempts, RetryAfterIsHonouredAndCapped) {
    auto m = fresh();
    auto s = m.on_create(reply(503, "{}", "7"), t0, 0.0);
    EXPECT_EQ(s.k, step::kind::wait);
    EXPECT_GE(s.delay, 7000ms);
    auto m2 = fresh();
    s = m2.on_create(reply(429, "{}", "86400"), t0, 0.0);
    EXPECT_EQ(s.delay, std::chrono::milliseconds(10min));
}

TEST(CreateAttempts, A429OrA503WithRetryAfterSlowsEveryoneDown) {
    auto m = fresh();
    auto s = m.on_create(reply(429), t0, 0.5);
    EXPECT_TRUE(s.slow_down);
    EXPECT_FALSE(s.slow_down_hint);
    s = m.on_create(reply(503, "{}", "3"), t0, 0.5);
    EXPECT_TRUE(s.slow_down);
    EXPECT_EQ(s.slow_down_hint, 3000ms);
    s = m.on_create(reply(503), t0, 0.5);
    EXPECT_FALSE(s.slow_down) << "a 503 without Retry-After only retries";
    s = m.on_create(reply(500, "{}", "3"), t0, 0.5);
    EXPECT_FALSE(s.slow_down);
}

TEST(CreateAttempts, OtherClientErrorsFailAfterOneRequestWithStatusAndBody) {
    for (unsigned status : {400u, 403u, 404u, 409u, 413u, 414u, 415u, 422u}) {
        auto m = fresh();
        const auto s = m.on_create(reply(status, R"({"title":"no"})"), t0, 0.5);
        EXPECT_EQ(s.k, step::kind::failed) << status;
        EXPECT_EQ(s.why.http_status, status);
        EXPECT_EQ(s.why.response_body, R"({"title":"no"})");
        EXPECT_EQ(s.why.request_id, "req-" + std::to_string(status));
        EXPECT_FALSE(s.why.reason.empty());
        EXPECT_EQ(m.attempts(), 1);
    }
}

TEST(CreateAttempts, GivesUpAfterMaxAttemptsWithTheLastError) {
    auto m = fresh(3);
    EXPECT_EQ(m.on_create(reply(500), t0, 0.5).k, step::kind::wait);
    EXPECT_EQ(m.on_create(reply(502), t0, 0.5).k, step::kind::wait);
    const auto s = m.on_create(reply(504, "gateway"), t0, 0.5);
    EXPECT_EQ(s.k, step::kind::failed);
    EXPECT_EQ(s.why.reason.rfind("gave up after 3 attempts: ", 0), 0u) << s.why.reason;
    EXPECT_NE(s.why.reason.find("504"), std::string::npos);
    EXPECT_EQ(s.why.http_status, 504u);
    EXPECT_EQ(s.why.response_body, "gateway");
    EXPECT_EQ(s.noted, step::note::create_failed) << "the last failure is still worth its line";
}

TEST(CreateAttempts, GivesUpAtMaxAgeAfterTheClaim) {
    auto m = fresh(100);
    EXPECT_EQ(m.on_create(reply(500), t0 + 59min, 0.5).k, step::kind::wait);
    const auto s = m.on_create(reply(500), t0 + 1h, 0.5);
    EXPECT_EQ(s.k, step::kind::failed);
    EXPECT_EQ(s.why.reason.rfind("gave up after 3600 s (retry.max_age): ", 0), 0u) << s.why.reason;
    // With max_age 0 there is no age limit.
    retry_config r = limits(100);
    r.max_age = 0ms;
    create_attempts unlimited(r, first_request::create, "aepb-x", t0);
    EXPECT_EQ(unlimited.on_create(reply(500), t0 + 1000h, 0.5).k, step::kind::wait);
}

TEST(CreateAttempts, AnUnknownOutcomeIsLookedUpEvenPastTheLimits) {
    auto m = fresh(2);
    // Written, then reset: never resent without asking Catalog, whatever the limits say.
    auto s = m.on_create(transport(true), t0 + 2h, 0.0);
    EXPECT_EQ(s.k, step::kind::wait) << "max_age does not cut a look-up short";
    EXPECT_GE(s.delay, 1000ms);
    ASSERT_EQ(m.next(), request::look_up);
    EXPECT_EQ(m.on_look_up(looked_up(lookup_result::kind::not_found), t0, 0.5).k, step::kind::again);
    s = m.on_create(transport(true), t0, 0.0);
    EXPECT_EQ(s.k, step::kind::wait) << "the last attempt's outcome is unknown: look it up";
    ASSERT_EQ(m.next(), request::look_up);
    s = m.on_look_up(looked_up(lookup_result::kind::not_found), t0, 0.5);
    EXPECT_EQ(s.k, step::kind::failed);
    EXPECT_EQ(s.why.reason, "gave up after 2 attempts: timeout error: read timed out");
    EXPECT_FALSE(s.why.http_status);
}

TEST(CreateAttempts, AnEntryAnEarlierRunMayHaveSentIsLookedUpFirst) {
    create_attempts found(limits(), first_request::look_up_first, "aepb-x", t0);
    ASSERT_EQ(found.next(), request::look_up);
    auto s = found.on_look_up(looked_up(lookup_result::kind::found, "b3"), t0, 0.5);
    EXPECT_EQ(s.k, step::kind::recovered);
    EXPECT_EQ(s.batch.batch_id, "b3");
    EXPECT_EQ(found.attempts(), 0);

    create_attempts absent(limits(), first_request::look_up_first, "aepb-x", t0);
    s = absent.on_look_up(looked_up(lookup_result::kind::not_found), t0, 0.5);
    EXPECT_EQ(s.k, step::kind::again);
    EXPECT_EQ(absent.next(), request::create);
    EXPECT_EQ(absent.on_create(created(), t0, 0.5).k, step::kind::created);
}

TEST(CreateAttempts, AFailedLookUpIsRetriedThenGivesUpSayingABatchMayExist) {
    create_attempts m(limits(3), first_request::look_up_first, "aepb-x", t0);
    auto s = m.on_look_up(looked_up(lookup_result::kind::error), t0, 0.999);
    EXPECT_EQ(s.k, step::kind::wait);
    EXPECT_EQ(s.noted, step::note::look_up_failed);
    EXPECT_EQ(s.note_reason, "catalog look-up: HTTP 503");
    EXPECT_GT(s.delay, 1000ms) << "back-off counted from the look-ups made";
    s = m.on_look_up(looked_up(lookup_result::kind::unauthorized), t0, 0.5);
    EXPECT_EQ(s.k, step::kind::wait);
    EXPECT_TRUE(s.drop_token);
    EXPECT_EQ(m.next(), request::look_up);
    s = m.on_look_up(looked_up(lookup_result::kind::error), t0, 0.5);
    EXPECT_EQ(s.k, step::kind::failed);
    EXPECT_EQ(s.why.reason,
              "outcome unknown after no attempt made; catalog look-up: HTTP 503 (a batch with "
              "externalId aepb-x may exist)");
}

TEST(CreateAttempts, ATornEntryIsOnlyEverLookedUp) {
    create_attempts m(limits(3), first_request::look_up_only, "aepb-t", t0);
    for (int i = 0; i < 2; ++i) {
        ASSERT_EQ(m.next(), request::look_up);
        const auto s = m.on_look_up(looked_up(lookup_result::kind::not_found), t0, 0.5);
        EXPECT_EQ(s.k, step::kind::wait);
        EXPECT_EQ(s.noted, step::note::torn_not_listed);
    }
    ASSERT_EQ(m.next(), request::look_up) << "never created again";
    const auto s = m.on_look_up(looked_up(lookup_result::kind::not_found), t0, 0.5);
    EXPECT_EQ(s.k, step::kind::failed);
    EXPECT_EQ(s.why.reason,
              "a crash tore this entry while its record was written, after its batch was "
              "created, and Catalog lists no batch with externalId aepb-t after 3 look-ups");
    EXPECT_EQ(m.attempts(), 0);

    create_attempts later(limits(3), first_request::look_up_only, "aepb-t", t0);
    EXPECT_EQ(later.on_look_up(looked_up(lookup_result::kind::found, "b9"), t0, 0.5).k,
              step::kind::recovered);
}

TEST(CreateAttempts, ASuspectedTornRecordFailsForWhatItIs) {
    create_attempts m(limits(1), first_request::look_up_only, "aepb-d", t0, "not JSON: x");
    const auto s = m.on_look_up(looked_up(lookup_result::kind::not_found), t0, 0.5);
    EXPECT_EQ(s.k, step::kind::failed);
    EXPECT_EQ(s.why.reason.rfind("not JSON: x (it was in the spool when the machine went down", 0),
              0u)
        << s.why.reason;
    EXPECT_NE(s.why.reason.find("aepb-d, after 1 look-ups)"), std::string::npos);
}

namespace {

retry_config with_lag(std::chrono::milliseconds lag, int max_attempts = 8) {
    retry_config r = limits(max_attempts);
    r.catalog_lag = lag;
    return r;
}

lookup_result listing(std::vector<std::pair<std::string, std::int64_t>> batches,
                      const std::string& status = "loading") {
    lookup_result r;
    r.outcome = lookup_result::kind::found;
    for (const auto& [id, created] : batches) {
        create_result b;
        b.outcome = create_result::kind::created;
        b.batch_id = id;
        b.status = status;
        b.created_ms = created;
        r.batches.push_back(b);
    }
    r.batch = r.batches.front();
    return r;
}

}  // namespace

TEST(CreateAttempts, AnUnknownOutcomeIsWatchedInCatalogForTheWholeLagBeforeAResend) {
    create_attempts m(with_lag(30s), first_request::create, "aepb-x", t0);
    auto s = m.on_create(transport(true), t0, 0.0);
    ASSERT_EQ(s.k, step::kind::wait);
    auto now = t0 + s.delay;
    int looks = 0;
    while (true) {
        ASSERT_EQ(m.next(), request::look_up) << "no resend inside the window";
        s = m.on_look_up(looked_up(lookup_result::kind::not_found), now, 0.5);
        ++looks;
        if (s.k != step::kind::wait) break;
        EXPECT_LE(s.delay, 7501ms) << "looks spaced out over the window";
        EXPECT_GE(s.delay, 1ms);
        now += s.delay;
        ASSERT_LT(looks, 50);
    }
    EXPECT_EQ(s.k, step::kind::again);
    EXPECT_GE(now, t0 + 30s);
    EXPECT_GE(looks, 4);
    EXPECT_LE(looks, 8);
    EXPECT_EQ(m.next(), request::create);
}

TEST(CreateAttempts, AResendAfterTheWindowIsConfirmedOnceMoreAndATwinAborted) {
    create_attempts m(with_lag(10s), first_request::create, "aepb-x", t0);
    auto now = t0;
    m.on_create(transport(true), now, 0.0);
    step s;
    do {
        now += 3s;
        s = m.on_look_up(looked_up(lookup_result::kind::not_found), now, 0.5);
    } while (s.k == step::kind::wait);
    ASSERT_EQ(m.next(), request::create);
    s = m.on_create(created("b2"), now, 0.5);
    EXPECT_EQ(s.k, step::kind::wait) << "the resend's 201 is not recorded yet";
    EXPECT_EQ(s.noted, step::note::watching);
    EXPECT_EQ(s.delay, 10s);
    ASSERT_EQ(m.next(), request::look_up);
    // The first create's batch surfaces late: the first created is kept, the resend aborted.
    s = m.on_look_up(listing({{"b1", 100}, {"b2", 200}}), now + 10s, 0.5);
    EXPECT_EQ(s.k, step::kind::recovered);
    EXPECT_EQ(s.batch.batch_id, "b1");
    EXPECT_EQ(s.abort, std::vector<std::string>{"b2"});
    EXPECT_EQ(m.attempts(), 2);
}

TEST(CreateAttempts, AConfirmedResendIsRecordedAsCreated) {
    create_attempts m(with_lag(1s), first_request::create, "aepb-x", t0);
    m.on_create(reply(201, "not json"), t0, 0.0);
    auto s = m.on_look_up(looked_up(lookup_result::kind::not_found), t0 + 2s, 0.5);
    ASSERT_EQ(s.k, step::kind::again);
    ASSERT_EQ(m.on_create(created("b2"), t0 + 2s, 0.5).k, step::kind::wait);
    s = m.on_look_up(listing({{"b2", 200}}), t0 + 3s, 0.5);
    EXPECT_EQ(s.k, step::kind::created);
    EXPECT_EQ(s.batch.batch_id, "b2");
    EXPECT_EQ(s.batch.stage_path, "s/b2") << "the 201's own answer is recorded";
    EXPECT_TRUE(s.abort.empty());
    // Catalog still lists nothing: the resend's batch is all there is.
    create_attempts n(with_lag(1s), first_request::create, "aepb-x", t0);
    n.on_create(transport(true), t0, 0.0);
    n.on_look_up(looked_up(lookup_result::kind::not_found), t0 + 2s, 0.5);
    n.on_create(created("b3"), t0 + 2s, 0.5);
    s = n.on_look_up(looked_up(lookup_result::kind::not_found), t0 + 3s, 0.5);
    EXPECT_EQ(s.k, step::kind::created);
    EXPECT_EQ(s.batch.batch_id, "b3");
}

TEST(CreateAttempts, TwinsFoundAtAnyLookUpAreAbortedWhileLoading) {
    create_attempts m(with_lag(30s), first_request::look_up_first, "aepb-x", t0);
    auto s = m.on_look_up(listing({{"b2", 200}, {"b1", 100}, {"b3", 300}}), t0, 0.5);
    EXPECT_EQ(s.k, step::kind::recovered);
    EXPECT_EQ(s.batch.batch_id, "b2") << "the listing's first, as Catalog ordered it";
    EXPECT_EQ(s.abort, (std::vector<std::string>{"b1", "b3"}));
    create_attempts done(with_lag(30s), first_request::look_up_first, "aepb-x", t0);
    s = done.on_look_up(listing({{"b1", 100}, {"b2", 200}}, "success"), t0, 0.5);
    EXPECT_TRUE(s.abort.empty()) << "only a loading batch can be aborted";
}

TEST(CreateAttempts, EarlierRunsCountTowardsTheLimitsAndTheirLastSendIsWatched) {
    earlier_runs before;
    before.attempts = 3;
    before.last_error = "HTTP 503: busy";
    before.last_sent = t0 - 5s;
    create_attempts m(with_lag(30s, 4), first_request::look_up_first, "aepb-x", t0 - 10min,
                      {}, before);
    EXPECT_EQ(m.attempts(), 3);
    auto s = m.on_look_up(looked_up(lookup_result::kind::not_found), t0, 0.5);
    EXPECT_EQ(s.k, step::kind::wait) << "its last create was sent 5 s ago: watched to 30 s";
    EXPECT_LE(s.delay, 7501ms);
    s = m.on_look_up(looked_up(lookup_result::kind::not_found), t0 + 26s, 0.5);
    EXPECT_EQ(s.k, step::kind::again);
    s = m.on_create(reply(503), t0 + 26s, 0.5);
    EXPECT_EQ(s.k, step::kind::failed);
    EXPECT_EQ(s.why.reason.rfind("gave up after 4 attempts: ", 0), 0u) << s.why.reason;
    // Its age runs from its first claim, by whichever run.
    create_attempts old(with_lag(30s), first_request::create, "aepb-x", t0 - 1h, {}, {});
    EXPECT_EQ(old.on_create(reply(503), t0, 0.5).k, step::kind::failed);
}

TEST(CreateAttempts, AnEntryPastItsAttemptsAfterARestartFailsWithItsLastError) {
    earlier_runs before;
    before.attempts = 4;
    before.last_error = "HTTP 500: oops";
    create_attempts m(with_lag(0ms, 4), first_request::look_up_first, "aepb-x", t0, {}, before);
    const auto s = m.on_look_up(looked_up(lookup_result::kind::not_found), t0, 0.5);
    EXPECT_EQ(s.k, step::kind::failed);
    EXPECT_EQ(s.why.reason, "gave up after 4 attempts: HTTP 500: oops");
    earlier_runs unknown;
    unknown.attempts = 1;
    create_attempts n(with_lag(0ms, 1), first_request::look_up_first, "aepb-x", t0, {}, unknown);
    EXPECT_EQ(n.on_look_up(looked_up(lookup_result::kind::not_found), t0, 0.5).why.reason,
              "gave up after 1 attempts: the outcome of a create sent before a restart is "
              "unknown");
}
