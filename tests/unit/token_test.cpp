#include "aep/token_provider.hpp"
#include "aep/token_schedule.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>

namespace aep {
namespace {

using namespace std::chrono_literals;
const steady_time t0{};  // a fake clock: time is only ever passed in

// Milliseconds after t0, so that failures print readable numbers.
long long ms(steady_time t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t - t0).count();
}

TEST(TokenSchedule, NeverLaterThanNinetyPercent) {
    auto t = schedule_token(t0, 24h, 5min);  // 24h - 5min is later than 90%: 90% wins
    EXPECT_EQ(ms(t.refresh_at), 77760000);
    EXPECT_EQ(ms(t.expires_at), 86400000 - 30000);  // skew capped at 30 s
}

TEST(TokenSchedule, MarginDecidesWhenItIsEarlier) {
    auto t = schedule_token(t0, 24h, 3h);
    EXPECT_EQ(ms(t.refresh_at), 75600000);
    EXPECT_LT(t.refresh_at, t.expires_at);
}

TEST(TokenSchedule, NinetyPercentDecidesForShortLifetimes) {
    auto t = schedule_token(t0, 3s, 5min);  // margin longer than the lifetime:
    EXPECT_EQ(ms(t.refresh_at), 1500);      // half the lifetime, not at once (no refresh loop)
    t = schedule_token(t0, 100s, 1s);
    EXPECT_EQ(ms(t.refresh_at), 90000);
    EXPECT_EQ(ms(t.expires_at), 98000);  // 2% skew
    t = schedule_token(t0, 10s, 0ms);
    EXPECT_EQ(ms(t.refresh_at), 9000);
}

TEST(TokenSchedule, ExpiryNeverPrecedesRefresh) {
    for (auto life : {1s, 2s, 10s, 3600s, 86400s}) {
        for (auto margin : {0ms, 500ms, 5000ms, 300000ms}) {
            auto t = schedule_token(t0, life, margin);
            const long long life_ms =
                std::chrono::duration_cast<std::chrono::milliseconds>(life).count();
            EXPECT_LE(ms(t.refresh_at), ms(t.expires_at));
            EXPECT_LE(ms(t.expires_at), life_ms);
            EXPECT_LE(ms(t.refresh_at), life_ms * 9 / 10);
            EXPECT_GE(ms(t.refresh_at), life_ms / 2);
        }
    }
}

TEST(TokenLifetime, AbsurdValuesAreReplaced) {
    EXPECT_EQ(decide_lifetime(86399).lifetime, 86399s);
    EXPECT_FALSE(decide_lifetime(86399).sanitized);
    for (auto bad : {std::optional<std::int64_t>{}, std::optional<std::int64_t>{0},
                     std::optional<std::int64_t>{-5}, std::optional<std::int64_t>{8 * 24 * 3600}}) {
        auto d = decide_lifetime(bad);
        EXPECT_TRUE(d.sanitized);
        EXPECT_EQ(d.lifetime, 300s);
    }
}

TEST(Backoff, FullJitterWithinTheCap) {
    EXPECT_EQ(backoff_delay(0, 1000ms, 60000ms, 0.0), 0ms);
    EXPECT_EQ(backoff_delay(0, 1000ms, 60000ms, 0.999), 999ms);
    EXPECT_EQ(backoff_delay(3, 1000ms, 60000ms, 0.5), 4000ms);
    EXPECT_EQ(backoff_delay(10, 1000ms, 60000ms, 0.5), 30000ms);  // capped at 60 s
    EXPECT_EQ(backoff_delay(1000, 1000ms, 60000ms, 1.0), 60000ms);
}

TEST(TokenResponse, Success) {
    auto r = parse_token_response(
        200, R"({"access_token":"abc","token_type":"bearer","expires_in":86399})");
    EXPECT_EQ(r.outcome, token_response::kind::ok);
    EXPECT_EQ(r.access_token, "abc");
    EXPECT_EQ(r.expires_in, 86399);
    EXPECT_EQ(parse_token_response(200, R"({"access_token":"abc","expires_in":"60"})").expires_in,
              60);
    EXPECT_FALSE(parse_token_response(200, R"({"access_token":"abc"})").expires_in);
}

TEST(TokenResponse, FailuresAreClassifiedAndNeverEchoTheToken) {
    EXPECT_EQ(parse_token_response(200, R"({"token_type":"bearer"})").outcome,
              token_response::kind::transient);
    EXPECT_EQ(parse_token_response(200, "garbage").outcome, token_response::kind::transient);
    EXPECT_EQ(parse_token_response(200, R"({"access_token":"a b"})").outcome,
              token_response::kind::transient);
    auto bad =
        parse_token_response(400, R"({"error":"invalid_client","error_description":"bad secret"})");
    EXPECT_EQ(bad.outcome, token_response::kind::config_error);
    EXPECT_EQ(bad.message, "IMS answered 400 (invalid_client: bad secret)");
    EXPECT_EQ(parse_token_response(401, "").outcome, token_response::kind::config_error);
    EXPECT_EQ(parse_token_response(503, "").outcome, token_response::kind::transient);
    EXPECT_EQ(parse_token_response(429, "").outcome, token_response::kind::transient);
    auto echo = parse_token_response(500, R"({"access_token":"SHOULD-NOT-APPEAR"})");
    EXPECT_EQ(echo.message.find("SHOULD-NOT-APPEAR"), std::string::npos);
}

TEST(TokenRequest, FormEncodesEveryField) {
    auth_config a;
    a.client_id = "id+1";
    a.scopes = {"openid", "AdobeID"};
    EXPECT_EQ(token_request_body(a, "s&=%"),
              "grant_type=client_credentials&client_id=id%2B1&client_secret=s%26%3D%25&scope="
              "openid%2CAdobeID");
}

class SecretTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("aep-secret-test-" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir_);
        ::unsetenv("CREDENTIALS_DIRECTORY");
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::string write(const std::string& name, const std::string& content, mode_t mode) {
        auto p = (dir_ / name).string();
        std::ofstream(p) << content;
        ::chmod(p.c_str(), mode);
        return p;
    }
    std::filesystem::path dir_;
};

TEST_F(SecretTest, FileWithTrailingNewline) {
    auth_config a;
    a.client_secret_file = write("s", "top-secret\n", 0600);
    auto r = read_client_secret(a);
    EXPECT_EQ(r.error, "");
    EXPECT_EQ(r.secret, "top-secret");
    EXPECT_EQ(r.warning, "");
}

TEST_F(SecretTest, WorldReadableFileWarnsWithoutTheValue) {
    auth_config a;
    a.client_secret_file = write("s", "top-secret", 0644);
    auto r = read_client_secret(a);
    EXPECT_NE(r.warning.find("readable by group or others"), std::string::npos);
    EXPECT_EQ(r.warning.find("top-secret"), std::string::npos);
}

TEST_F(SecretTest, MissingSourcesAreNamed) {
    auth_config a;
    a.client_secret_file = (dir_ / "absent").string();
    EXPECT_NE(read_client_secret(a).error.find("auth.client_secret_file: cannot read"),
              std::string::npos);
    auth_config b;
    b.client_secret_env = "AEP_TEST_SECRET_UNSET";
    ::unsetenv("AEP_TEST_SECRET_UNSET");
    EXPECT_NE(read_client_secret(b).error.find("AEP_TEST_SECRET_UNSET is not set"),
              std::string::npos);
    auth_config c;
    EXPECT_NE(read_client_secret(c).error.find("no client secret"), std::string::npos);
}

TEST_F(SecretTest, EnvironmentAndSystemdCredential) {
    auth_config a;
    a.client_secret_env = "AEP_TEST_SECRET";
    ::setenv("AEP_TEST_SECRET", "from-env", 1);
    EXPECT_EQ(read_client_secret(a).secret, "from-env");
    write("client_secret", "from-credential\n", 0400);
    ::setenv("CREDENTIALS_DIRECTORY", dir_.c_str(), 1);
    auth_config none;
    auto r = read_client_secret(none);
    EXPECT_EQ(r.secret, "from-credential");
    EXPECT_EQ(read_client_secret(a).secret, "from-env");  // an explicit source wins
    ::unsetenv("CREDENTIALS_DIRECTORY");
}

}  // namespace
}  // namespace aep

namespace aep {
namespace {

using namespace std::chrono_literals;

// The fetcher's decisions, stepped on a fake clock.
class TokenStateTest : public ::testing::Test {
  protected:
    steady_time now{};
    token_state st{1s};  // refresh margin 1 s
};

TEST_F(TokenStateTest, FirstTokenIsFetchedAtOnceAndServesUntilExpiry) {
    EXPECT_TRUE(st.next(now).fetch);
    EXPECT_EQ(st.usable(now), nullptr);
    st.on_success(now, "t1", 3);  // 3 s lifetime
    ASSERT_NE(st.usable(now), nullptr);
    EXPECT_EQ(*st.usable(now), "t1");
    auto a = st.next(now);
    EXPECT_FALSE(a.fetch);
    EXPECT_EQ(a.wait_until, now + 2s);  // lifetime - margin
    EXPECT_TRUE(st.next(now + 2s).fetch);
    EXPECT_NE(st.usable(now + 2s), nullptr) << "the old token serves while the new one is fetched";
    EXPECT_EQ(st.usable(now + 3s), nullptr) << "never sent after its expiry";
}

TEST_F(TokenStateTest, ManyWaitersStillOneFetch) {
    for (int i = 0; i < 200; ++i) st.demand();
    EXPECT_TRUE(st.next(now).fetch);
    st.on_success(now, "t1", 3600);
    for (int i = 0; i < 200; ++i) {
        EXPECT_NE(st.usable(now), nullptr);
        EXPECT_FALSE(st.next(now).fetch);
    }
}

TEST_F(TokenStateTest, FailuresBackOffAndWaitersCannotShortenIt) {
    auto d1 = st.on_failure(now, token_state::failure_kind::transient, 0.5);
    EXPECT_GE(d1, 200ms);
    st.demand();
    auto a = st.next(now);
    EXPECT_FALSE(a.fetch) << "demand during a back-off must not cause a request";
    EXPECT_EQ(a.wait_until, now + d1);
    EXPECT_TRUE(st.next(now + d1).fetch);
    auto d2 = st.on_failure(now + d1, token_state::failure_kind::transient, 0.999);
    EXPECT_GT(d2, d1) << "the back-off grows";
    EXPECT_EQ(st.consecutive_failures(), 2);
    st.on_success(now + d1 + d2, "t", 60);
    EXPECT_EQ(st.consecutive_failures(), 0);
}

TEST_F(TokenStateTest, NewCredentialsDropTheTokenAndSkipTheBackoff) {
    st.on_success(now, "old", 3600);
    (void)st.on_failure(now + 1s, token_state::failure_kind::config, 0.5);
    EXPECT_FALSE(st.next(now + 2s).fetch) << "backing off after the old credentials failed";
    st.forget();
    EXPECT_EQ(st.usable(now + 2s), nullptr) << "a token of the old credentials is not sent";
    EXPECT_TRUE(st.next(now + 2s).fetch) << "new credentials are tried at once";
    EXPECT_EQ(st.consecutive_failures(), 0);
}

TEST_F(TokenStateTest, ConfigErrorsWaitAtLeastThirtySeconds) {
    auto d = st.on_failure(now, token_state::failure_kind::config, 0.0);
    EXPECT_GE(d, 30s);
    EXPECT_FALSE(st.next(now + 29s).fetch);
}

TEST_F(TokenStateTest, StillValidTokenServesDuringIMSOutage) {
    st.on_success(now, "t1", 100);
    auto refresh = st.next(now).wait_until;
    st.on_failure(refresh, token_state::failure_kind::transient, 0.5);
    ASSERT_NE(st.usable(refresh + 1s), nullptr);
    EXPECT_EQ(*st.usable(refresh + 1s), "t1");
}

TEST_F(TokenStateTest, InvalidateDropsOnlyTheTokenThatWasRefused) {
    st.on_success(now, "old", 3600);
    EXPECT_TRUE(st.invalidate("old"));
    EXPECT_EQ(st.usable(now), nullptr);
    EXPECT_TRUE(st.next(now).fetch);
    st.on_success(now, "new", 3600);
    EXPECT_FALSE(st.invalidate("old")) << "a late 401 for the old token must not drop the new one";
    EXPECT_NE(st.usable(now), nullptr);
}

TEST_F(TokenStateTest, LifetimeCountsFromWhenTheRequestWasSent) {
    st.on_success(now, "t", 10);  // sent at now, received later
    EXPECT_EQ(st.timing().expires_at, now + 9800ms);
}

TEST_F(TokenStateTest, AbsurdExpiresInIsReplaced) {
    auto life = st.on_success(now, "t", -1);
    EXPECT_TRUE(life.sanitized);
    EXPECT_NE(st.usable(now + 200s), nullptr);
    EXPECT_EQ(st.usable(now + 300s), nullptr);
}

}  // namespace
}  // namespace aep
