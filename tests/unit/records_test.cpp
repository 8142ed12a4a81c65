#include "aep/records.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace aep {
namespace {

TEST(FullRecords, DoneCarriesFilesTheFinalStatusAndCatalogsFigures) {
    done_record_fields f;
    f.queue = "prod";
    f.entry = "e1";
    f.dataset_id = "ds";
    f.external_id = "x1";
    f.created_at = "2026-12-01T10:00:00.000Z";
    f.attempts = 1;
    create_result r;
    r.batch_id = "B1";
    r.status = "loading";
    r.response = "{}";
    batch_status st = parse_batch_status(200, R"({"B1": {"status": "success", "recordCount": 10,
        "failedRecordCount": 2, "errors": [{"code": "X", "description": "d"}]}})", "B1");
    full_outcome full;
    full.files = {{"a/1.json", "date=1/1.json", 123, "abc"}};
    full.status = &st;
    full.completed_at = "2026-12-01T10:00:01.000Z";
    full.finished_at = "2026-12-01T10:00:31.000Z";
    const auto text = done_record_text(f, r, &full);
    boost::system::error_code ec;
    const auto v = boost::json::parse(text, ec);
    ASSERT_FALSE(ec) << text;
    const auto& o = v.as_object();
    EXPECT_EQ(o.at("status"), "success");
    EXPECT_EQ(o.at("recordCount"), 10);
    EXPECT_EQ(o.at("failedRecordCount"), 2);
    EXPECT_EQ(o.at("errors").as_array().size(), 1u);
    EXPECT_EQ(o.at("files").as_array()[0].at("remote"), "date=1/1.json");
    EXPECT_EQ(o.at("files").as_array()[0].at("size"), 123);
    EXPECT_EQ(o.at("completedAt"), "2026-12-01T10:00:01.000Z");
    EXPECT_TRUE(is_record_of(text, "x1"));
    EXPECT_EQ(done_record_text(f, r).find("files"), std::string::npos) << "not for a create-only";
}

TEST(FullRecords, AFailureNamesItsStageBatchFileAndStatus) {
    failure_record_fields f;
    f.queue = "prod";
    f.entry = "e1";
    f.dataset_id = "ds";
    f.reason = "file a.json: changed since the entry was claimed";
    f.stage = "upload";
    f.batch_id = "B1";
    f.file = "a.json";
    batch_status st;
    st.status = "aborted";
    f.status = &st;
    f.failed_at = "t";
    const auto v = boost::json::parse(failure_record_text(f));
    EXPECT_EQ(v.at("stage"), "upload");
    EXPECT_EQ(v.at("batchId"), "B1");
    EXPECT_EQ(v.at("status"), "aborted");
    EXPECT_EQ(v.at("file"), "a.json");
    failure_record_fields early = f;
    early.stage = "validate";
    early.batch_id = {};
    early.status = nullptr;
    const auto w = boost::json::parse(failure_record_text(early));
    EXPECT_TRUE(w.at("batchId").is_null());
    EXPECT_TRUE(w.at("status").is_null());
}

}  // namespace
}  // namespace aep
