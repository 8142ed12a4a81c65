#include "aep/entry.hpp"

#include <gtest/gtest.h>

namespace aep {
namespace {

TEST(Entry, BareIdWithSurroundingWhitespace) {
    auto p = parse_entry("  5da9452f7de80400007jc52a\n");
    ASSERT_TRUE(p.value) << p.error;
    EXPECT_EQ(p.value->dataset_id, "5da9452f7de80400007jc52a");
    EXPECT_FALSE(p.value->format);
    EXPECT_FALSE(p.value->external_id);
}

TEST(Entry, BareIdLimits) {
    EXPECT_TRUE(parse_entry(std::string(128, 'a')).value);
    EXPECT_FALSE(parse_entry(std::string(129, 'a')).value);
    EXPECT_TRUE(parse_entry("a.b-c_D9").value);
    for (const char* bad : {"", "   \n", "two ids", "id/with/slash", "id\nsecond", "caf\xc3\xa9",
                            "[\"x\"]", "\"quoted\""}) {
        auto p = parse_entry(bad);
        EXPECT_FALSE(p.value) << "accepted: " << bad;
        EXPECT_FALSE(p.error.empty());
    }
}

TEST(Entry, JsonObjectWithEveryField) {
    auto p =
        parse_entry(R"({"datasetId":"ds1","inputFormat":{"format":"csv","isMultiLineJson":false},
                             "tags":{"team":["a","b"]},"externalId":"ext-1"})");
    ASSERT_TRUE(p.value) << p.error;
    EXPECT_EQ(p.value->dataset_id, "ds1");
    ASSERT_TRUE(p.value->format);
    EXPECT_EQ(p.value->format->format, "CSV");
    EXPECT_EQ(p.value->format->is_multi_line_json, false);
    ASSERT_TRUE(p.value->tags);
    EXPECT_EQ(p.value->tags->at("team").as_array().size(), 2u);
    EXPECT_EQ(p.value->external_id, "ext-1");
}

TEST(Entry, JsonErrorsSayWhatIsWrong) {
    struct {
        const char* text;
        const char* reason;
    } cases[] = {
        {R"({"datasetId":)", "invalid JSON"},
        {R"({"inputFormat":{"format":"JSON"}})", "JSON entry has no datasetId"},
        {R"({"datasetId":"bad id"})", "datasetId must be"},
        {R"({"datasetId":7})", "datasetId must be"},
        {R"({"datasetId":"d","extra":1})", "unknown key in JSON entry"},
        {R"({"datasetId":"d","inputFormat":"JSON"})", "inputFormat must be an object"},
        {R"({"datasetId":"d","inputFormat":{"format":"xml"}})",
         "inputFormat.format must be one of"},
        {R"({"datasetId":"d","inputFormat":{}})", "inputFormat.format is required"},
        {R"({"datasetId":"d","inputFormat":{"format":"JSON","isMultiLineJson":"yes"}})",
         "isMultiLineJson must be a boolean"},
        {R"({"datasetId":"d","tags":{"a":"b"}})", "tags values must be arrays of strings"},
        {R"({"datasetId":"d","tags":{"a":[1]}})", "tags values must be arrays of strings"},
        {R"({"datasetId":"d","externalId":"has space"})", "externalId must be"},
        {R"({"datasetId":"d","externalId":""})", "externalId must be"},
    };
    for (const auto& c : cases) {
        auto p = parse_entry(c.text);
        EXPECT_FALSE(p.value) << "accepted: " << c.text;
        EXPECT_NE(p.error.find(c.reason), std::string::npos)
            << "for " << c.text << " expected a reason containing '" << c.reason << "', got '"
            << p.error << "'";
    }
}

TEST(Entry, AnErrorAfterAValidDatasetIdKeepsTheIdForTheRecord) {
    auto p = parse_entry(R"({"datasetId": "ds1", "files": ["../x"]})");
    EXPECT_FALSE(p.value);
    EXPECT_EQ(p.dataset_id, "ds1");
    EXPECT_NE(p.error.find("'..'"), std::string::npos) << p.error;
    p = parse_entry(R"({"datasetId": "ds1", "tags": 3})");
    EXPECT_EQ(p.dataset_id, "ds1");
    p = parse_entry(R"({"datasetId": "bad id", "files": ["x"]})");
    EXPECT_EQ(p.dataset_id, "") << "an invalid id is not one to record";
}

TEST(Entry, TooLargeIsRefusedUnparsed) {
    auto p = parse_entry(std::string(max_entry_bytes + 1, 'a'));
    EXPECT_FALSE(p.value);
    EXPECT_EQ(p.error, "entry is larger than 512 KiB");
}

TEST(Entry, SerializeRoundTrips) {
    batch_entry e;
    e.dataset_id = "ds";
    e.format = input_format{"Parquet", true};
    e.tags = boost::json::object{{"k", boost::json::array{"v"}}};
    e.external_id = "aepb-0123";
    auto p = parse_entry(serialize_entry(e));
    ASSERT_TRUE(p.value) << p.error;
    EXPECT_EQ(p.value->dataset_id, "ds");
    EXPECT_EQ(p.value->format->format, "Parquet");
    EXPECT_EQ(p.value->format->is_multi_line_json, true);
    EXPECT_EQ(p.value->external_id, "aepb-0123");
    EXPECT_EQ(*p.value->tags, *e.tags);
}

}  // namespace
}  // namespace aep
