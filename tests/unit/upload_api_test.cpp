#include "aep/upload_api.hpp"

#include <gtest/gtest.h>

namespace aep {
namespace {

const platform_config platform{"https://x/import", "https://x/catalog", "ORG@AdobeOrg", "key"};

TEST(UploadApi, RequestsCarryTheHeadersTheSpecWants) {
    const auto import_ep = *parse_endpoint("https://platform.adobe.io/data/foundation/import").value;
    const api_caller as{platform, "prod", "tok"};
    const file_target t{"01BATCH", "ds1", "date=2026-12-01/part-1.parquet"};
    auto put = file_put_request(import_ep, as, t, 1234);
    EXPECT_EQ(put.method(), http::verb::put);
    EXPECT_EQ(put.target(), "/data/foundation/import/batches/01BATCH/datasets/ds1/files/"
                            "date=2026-12-01/part-1.parquet");
    EXPECT_EQ(put[http::field::content_type], "application/octet-stream");
    EXPECT_EQ(put[http::field::content_length], "1234");
    EXPECT_EQ(put[http::field::authorization], "Bearer tok");
    EXPECT_EQ(put["x-sandbox-name"], "prod");
    auto part = file_part_request(import_ep, as, t, 100, 199, 1000);
    EXPECT_EQ(part.method(), http::verb::patch);
    EXPECT_EQ(part[http::field::content_range], "bytes 100-199/1000");
    EXPECT_EQ(part[http::field::content_length], "100");
    EXPECT_EQ(file_action_request(import_ep, as, t, "INITIALIZE").target(),
              "/data/foundation/import/batches/01BATCH/datasets/ds1/files/"
              "date=2026-12-01/part-1.parquet?action=INITIALIZE");
    EXPECT_EQ(file_head_request(import_ep, as, t).method(), http::verb::head);
    EXPECT_EQ(batch_complete_request(import_ep, as, "01BATCH").target(),
              "/data/foundation/import/batches/01BATCH?action=COMPLETE");
    const auto catalog_ep = *parse_endpoint("https://platform.adobe.io/data/foundation/catalog").value;
    EXPECT_EQ(batch_status_request(catalog_ep, as, "01BATCH").target(),
              "/data/foundation/catalog/batches/01BATCH");
}

TEST(UploadApi, AnswersAreClassified) {
    EXPECT_EQ(classify_call(200), call_outcome::ok);
    EXPECT_EQ(classify_call(201), call_outcome::ok);
    EXPECT_EQ(classify_call(401), call_outcome::refresh);
    for (unsigned s : {408u, 429u, 500u, 502u, 503u, 504u}) {
        EXPECT_EQ(classify_call(s), call_outcome::transient) << s;
    }
    for (unsigned s : {400u, 403u, 404u, 413u, 414u, 415u, 422u}) {
        EXPECT_EQ(classify_call(s), call_outcome::permanent) << s;
    }
}

TEST(UploadApi, TheRangesAServerMaySendAreRead) {
    using r = byte_ranges;
    EXPECT_EQ(parse_received_ranges(""), r{});
    EXPECT_EQ(parse_received_ranges("bytes=0-99"), (r{{0, 99}}));
    EXPECT_EQ(parse_received_ranges("0-99"), (r{{0, 99}}));
    EXPECT_EQ(parse_received_ranges("Bytes 0-99/1000"), (r{{0, 99}}));
    EXPECT_EQ(parse_received_ranges("bytes=200-299, 0-99"), (r{{0, 99}, {200, 299}}));
    EXPECT_EQ(parse_received_ranges("bytes=0-99,100-199"), (r{{0, 199}})) << "adjacent: merged";
    EXPECT_EQ(parse_received_ranges("bytes=0-150,100-199"), (r{{0, 199}})) << "overlapping";
    for (const char* bad : {"bytes=", "bytes=a-b", "bytes=5-1", "0-", "-5", "bytes=0-99,",
                            "bytes=0-18446744073709551616"}) {
        EXPECT_FALSE(parse_received_ranges(bad)) << bad;
    }
}

TEST(UploadApi, TheNextPartNeverOverlapsWhatWasReceived) {
    const std::uint64_t total = 1000;
    EXPECT_EQ(next_part({}, total, 300), (std::pair<std::uint64_t, std::uint64_t>{0, 299}));
    EXPECT_EQ(next_part({{0, 299}}, total, 300), (std::pair<std::uint64_t, std::uint64_t>{300, 599}));
    // A gap before a range received later (parts sent out of order): filled up to it only.
    EXPECT_EQ(next_part({{0, 99}, {300, 599}}, total, 300),
              (std::pair<std::uint64_t, std::uint64_t>{100, 299}));
    EXPECT_EQ(next_part({{0, 899}}, total, 300), (std::pair<std::uint64_t, std::uint64_t>{900, 999}));
    EXPECT_EQ(next_part({{0, 999}}, total, 300), std::nullopt);
    EXPECT_EQ(next_part({{100, 999}}, total, 300), (std::pair<std::uint64_t, std::uint64_t>{0, 99}));
    // Steps to the end from any start, each part within limits.
    byte_ranges got;
    int parts = 0;
    while (auto p = next_part(got, total, 300)) {
        EXPECT_LE(p->second - p->first + 1, 300u);
        got.emplace_back(p->first, p->second);
        got = *parse_received_ranges("bytes=" + [&] {
            std::string s;
            for (const auto& [a, b] : got) s += (s.empty() ? "" : ",") + std::to_string(a) + "-" + std::to_string(b);
            return s;
        }());
        ASSERT_LT(++parts, 10);
    }
    EXPECT_EQ(got, (byte_ranges{{0, 999}}));
}

TEST(UploadApi, FinalStatusesAreClassified) {
    using k = batch_status::kind;
    for (const char* s : {"success", "active", "inactive", "deleted"})
        EXPECT_EQ(classify_status(s), k::succeeded) << s;
    EXPECT_EQ(classify_status("failed"), k::failed);
    EXPECT_EQ(classify_status("failure"), k::failed);
    EXPECT_EQ(classify_status("aborted"), k::aborted);
    EXPECT_EQ(classify_status("abandoned"), k::abandoned);
    EXPECT_EQ(classify_status("stalled"), k::stalled);
    for (const char* s : {"loading", "staging", "processing", "queued", "retrying", "loaded",
                          "staged", "something-new"})
        EXPECT_EQ(classify_status(s), k::pending) << s;
}

TEST(UploadApi, CatalogsAnswerGivesStatusCountsAndErrors) {
    auto s = parse_batch_status(200, R"({"B1": {"status": "success", "recordCount": 10,
        "failedRecordCount": 2, "errors": [{"code": "X", "description": "bad row"}]}})", "B1");
    EXPECT_EQ(s.k, batch_status::kind::succeeded);
    EXPECT_EQ(s.record_count, 10);
    EXPECT_EQ(s.failed_record_count, 2);
    ASSERT_EQ(s.errors.size(), 1u);
    auto m = parse_batch_status(200, R"({"B1": {"status": "failed", "metrics": {"recordCount": 7,
        "failedRecordCount": 7}}})", "B1");
    EXPECT_EQ(m.k, batch_status::kind::failed);
    EXPECT_EQ(m.record_count, 7) << "from metrics when the top level has none";
    EXPECT_EQ(parse_batch_status(404, "", "B1").k, batch_status::kind::unknown);
    EXPECT_EQ(parse_batch_status(200, R"({"B2": {"status": "success"}})", "B1").k,
              batch_status::kind::unknown);
    EXPECT_EQ(parse_batch_status(200, "not json", "B1").k, batch_status::kind::unknown);
}

}  // namespace
}  // namespace aep
