#include "io/metrics.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace aep {
namespace {

// The value of the sample whose name-and-labels part is exactly `series`.
std::optional<std::string> sample(const std::string& text, const std::string& series) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(series + " ", 0) == 0) return line.substr(series.size() + 1);
    }
    return std::nullopt;
}

TEST(Metrics, HistogramBucketsAreCumulative) {
    histogram h;
    h.observe(0.004);
    h.observe(0.2);
    h.observe(100);
    const auto& c = h.cumulative();
    EXPECT_EQ(c[0], 1u);                             // <= 0.005
    EXPECT_EQ(c[4], 1u);                             // <= 0.1
    EXPECT_EQ(c[5], 2u);                             // <= 0.25
    EXPECT_EQ(c[h.bounds().size() - 1], 2u);  // <= 60
    EXPECT_EQ(c[h.bounds().size()], 3u);      // +Inf
    EXPECT_EQ(h.count(), 3u);
    EXPECT_DOUBLE_EQ(h.sum(), 100.204);
}

TEST(Metrics, StatusClasses) {
    EXPECT_EQ(status_class(201), "2xx");
    EXPECT_EQ(status_class(429), "429") << "the org-wide slow-down, apart from other 4xx";
    EXPECT_EQ(status_class(404), "4xx");
    EXPECT_EQ(status_class(503), "5xx");
    EXPECT_EQ(status_class(0), "transport");
}

TEST(Metrics, RendersCountersAndGaugesByPrometheusConventions) {
    metrics_counters c;
    c.entry("prod", metrics_counters::outcome::done, 0.2, 1795000000.25);
    c.entry("prod", metrics_counters::outcome::failed, 700, 1795000100);
    c.entry("prod", metrics_counters::outcome::done, 0.03, 1795000001.5);
    c.retry("prod");
    c.request("create", 201, 0.02);
    c.request("create", 503, 0.3);
    c.request("create", 0, 30);
    c.request("lookup", 200, 0.01);
    metrics_gauges g;
    g.queues.push_back({"prod", 7, 12.5});
    g.queues.push_back({"quiet", 0, 0});
    g.in_flight = 3;
    g.token_requests = 4;
    g.token_failures = 1;
    g.tls_handshakes = 5;
    g.tls_resumed = 2;
    g.version = "9.9.9";
    g.revision = "abc123";
    const auto text = render_metrics(c, g);

    EXPECT_EQ(sample(text, R"(aep_batchd_entries_total{queue="prod",outcome="done"})"), "2");
    EXPECT_EQ(sample(text, R"(aep_batchd_entries_total{queue="prod",outcome="failed"})"), "1");
    EXPECT_EQ(sample(text, R"(aep_batchd_retries_total{queue="prod"})"), "1");
    EXPECT_EQ(sample(text, R"(aep_batchd_requests_total{kind="create",class="2xx"})"), "1");
    EXPECT_EQ(sample(text, R"(aep_batchd_requests_total{kind="create",class="5xx"})"), "1");
    EXPECT_EQ(sample(text, R"(aep_batchd_requests_total{kind="create",class="transport"})"), "1");
    EXPECT_EQ(sample(text, R"(aep_batchd_requests_total{kind="lookup",class="2xx"})"), "1");
    EXPECT_EQ(
        sample(text, R"(aep_batchd_request_duration_seconds_bucket{kind="create",le="0.025"})"),
        "1");
    EXPECT_EQ(
        sample(text, R"(aep_batchd_request_duration_seconds_bucket{kind="create",le="+Inf"})"),
        "3");
    EXPECT_EQ(sample(text, R"(aep_batchd_request_duration_seconds_count{kind="create"})"), "3");
    EXPECT_EQ(sample(text, "aep_batchd_entries_in_flight"), "3");
    EXPECT_EQ(sample(text, R"(aep_batchd_pending_entries{queue="prod"})"), "7");
    EXPECT_EQ(sample(text, R"(aep_batchd_oldest_pending_age_seconds{queue="prod"})"), "12.5");
    EXPECT_EQ(sample(text, R"(aep_batchd_last_success_timestamp_seconds{queue="prod"})"),
              "1795000001.5");
    EXPECT_EQ(sample(text, R"(aep_batchd_entry_duration_seconds_bucket{queue="prod",le="0.05"})"),
              "1");
    EXPECT_EQ(sample(text, R"(aep_batchd_entry_duration_seconds_bucket{queue="prod",le="900"})"),
              "3");
    EXPECT_EQ(sample(text, R"(aep_batchd_entry_duration_seconds_count{queue="prod"})"), "3");
    // A queue where nothing happened yet, and requests not made yet: present, at 0.
    EXPECT_EQ(sample(text, R"(aep_batchd_entries_total{queue="quiet",outcome="failed"})"), "0");
    EXPECT_EQ(sample(text, R"(aep_batchd_last_success_timestamp_seconds{queue="quiet"})"), "0");
    EXPECT_EQ(sample(text, R"(aep_batchd_entry_duration_seconds_count{queue="quiet"})"), "0");
    EXPECT_EQ(sample(text, R"(aep_batchd_requests_total{kind="abort",class="429"})"), "0");
    EXPECT_EQ(sample(text, R"(aep_batchd_request_duration_seconds_count{kind="abort"})"), "0");
    EXPECT_EQ(sample(text, R"(aep_batchd_token_refreshes_total{result="success"})"), "3");
    EXPECT_EQ(sample(text, R"(aep_batchd_token_refreshes_total{result="failure"})"), "1");
    EXPECT_EQ(sample(text, R"(aep_batchd_tls_handshakes_total{resumed="true"})"), "2");
    EXPECT_EQ(sample(text, R"(aep_batchd_tls_handshakes_total{resumed="false"})"), "3");
    EXPECT_EQ(sample(text, R"(aep_batchd_build_info{version="9.9.9",revision="abc123"})"), "1");

    // Every family has HELP and TYPE before its samples; counters end in _total.
    std::istringstream in(text);
    std::string line, family, type;
    while (std::getline(in, line)) {
        ASSERT_FALSE(line.empty());
        if (line.rfind("# HELP ", 0) == 0) continue;
        if (line.rfind("# TYPE ", 0) == 0) {
            std::istringstream t(line.substr(7));
            t >> family >> type;
            if (type == "counter") EXPECT_TRUE(family.ends_with("_total")) << family;
            continue;
        }
        EXPECT_EQ(line.rfind(family, 0), 0u) << line << " outside its family " << family;
    }
}

TEST(Metrics, LabelValuesAreEscaped) {
    EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

}  // namespace
}  // namespace aep
