#include "aep/batch_api.hpp"
#include "aep/records.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace aep {
namespace {

const auto now = std::chrono::system_clock::from_time_t(1445412480);  // 2015-10-21 07:28:00 UTC

endpoint import_ep() {
    return *parse_endpoint("https://platform.adobe.io/data/foundation/import").value;
}

TEST(CreateBatch, BodyHasTheSpecFieldsAndQueueDefault) {
    batch_entry e{"ds1", std::nullopt, std::nullopt, std::string("aepb-1")};
    auto body =
        boost::json::parse(create_batch_body(e, input_format{"Parquet", std::nullopt})).as_object();
    EXPECT_EQ(body.at("datasetId"), "ds1");
    EXPECT_EQ(body.at("externalId"), "aepb-1");
    EXPECT_EQ(body.at("inputFormat").as_object().at("format"), "Parquet");
    EXPECT_FALSE(body.at("inputFormat").as_object().contains("isMultiLineJson"));
    EXPECT_FALSE(body.contains("tags"));
    EXPECT_EQ(body.size(), 3u);
}

TEST(CreateBatch, EntryFormatAndTagsWin) {
    batch_entry e{"ds1", input_format{"JSON", true},
                  boost::json::object{{"t", boost::json::array{"v"}}}, std::string("x")};
    auto body =
        boost::json::parse(create_batch_body(e, input_format{"CSV", std::nullopt})).as_object();
    EXPECT_EQ(body.at("inputFormat").as_object().at("format"), "JSON");
    EXPECT_EQ(body.at("inputFormat").as_object().at("isMultiLineJson"), true);
    EXPECT_EQ(body.at("tags").as_object().at("t").as_array()[0], "v");
}

// The body is written by hand for speed: it must be exactly what Boost.JSON would write, escapes
// included, for any entry the parser accepts.
TEST(CreateBatch, BodyIsWhatBoostJsonWouldWrite) {
    const auto reference = [](const batch_entry& e, const input_format& def) {
        const input_format& f = e.format ? *e.format : def;
        boost::json::object o;
        o["datasetId"] = e.dataset_id;
        boost::json::object fmt;
        fmt["format"] = f.format;
        if (f.is_multi_line_json) fmt["isMultiLineJson"] = *f.is_multi_line_json;
        o["inputFormat"] = std::move(fmt);
        o["externalId"] = e.external_id.value_or("");
        if (e.tags && !e.tags->empty()) o["tags"] = *e.tags;
        return boost::json::serialize(o);
    };
    const input_format def{"Parquet", std::nullopt};
    const std::vector<batch_entry> entries = {
        {"ds1", std::nullopt, std::nullopt, std::string("aepb-0123456789abcdef0123456789abcdef")},
        {"ds.2_x-y", input_format{"JSON", false}, std::nullopt, std::string("own/id:1")},
        {"ds3", input_format{"JSON", true}, boost::json::object{{"t", boost::json::array{"a\"b"}}},
         std::string("quote\"and\\backslash~")},
        {"ds4", std::nullopt, boost::json::object{}, std::string("\x7f\x01tab\there")},
    };
    for (const auto& e : entries) {
        EXPECT_EQ(create_batch_body(e, def), reference(e, def));
    }
}

TEST(CreateBatch, RequestCarriesExactlyTheSixHeaders) {
    platform_config p;
    p.org_id = "ORG@AdobeOrg";
    p.api_key = "key";
    auto req = create_batch_request(import_ep(), {p, "prod", "tok"}, "{}");
    EXPECT_EQ(req.method(), http::verb::post);
    EXPECT_EQ(req.target(), "/data/foundation/import/batches");
    EXPECT_EQ(req[http::field::accept], "application/json");
    EXPECT_EQ(req[http::field::content_type], "application/json");
    EXPECT_EQ(req[http::field::authorization], "Bearer tok");
    EXPECT_EQ(req["x-api-key"], "key");
    EXPECT_EQ(req["x-gw-ims-org-id"], "ORG@AdobeOrg");
    EXPECT_EQ(req["x-sandbox-name"], "prod");
    EXPECT_EQ(std::distance(req.begin(), req.end()), 6);
}

TEST(Classify, CreatedWithStagePath) {
    auto r = classify_create_response(
        201, R"({"id":"B1","status":"loading","tags":{"acp_stagePath":["stage/B1"]}})", "", now);
    EXPECT_EQ(r.outcome, create_result::kind::created);
    EXPECT_EQ(r.batch_id, "B1");
    EXPECT_EQ(r.stage_path, "stage/B1");
    EXPECT_EQ(r.status, "loading");
}

TEST(Classify, CreatedWithoutStagePath) {
    auto r = classify_create_response(201, R"({"id":"B1","tags":[{"x":1}]})", "", now);
    EXPECT_EQ(r.outcome, create_result::kind::created);
    EXPECT_EQ(r.stage_path, "");
}

TEST(Classify, CreatedKeepsTheBodyAsOneLineOfJson) {
    const std::string body = R"({"id":"B1", "tags":{"acp_stagePath":["s"]}})";
    EXPECT_EQ(classify_create_response(201, body, "", now).response, body);
    const auto pretty = classify_create_response(201, "{\n  \"id\": \"B1\"\n}\n", "", now);
    EXPECT_EQ(pretty.response, R"({"id":"B1"})");
}

TEST(DoneRecord, IsOneLineOfJsonWithTheDocumentedFields) {
    auto r = classify_create_response(
        201, R"({"id":"B1","status":"loading","tags":{"acp_stagePath":["stage/B1"]},"n":[1,2]})",
        "", now);
    done_record_fields f;
    f.queue = "prod";
    const std::string entry = std::string("a\"b\\c\n\x01\xff", 8);
    f.entry = entry;
    f.dataset_id = "ds1";
    f.external_id = "aepb-1";
    f.created_at = "2026-11-28T15:42:45.554Z";
    f.attempts = 2;
    auto text = done_record_text(f, r);
    ASSERT_EQ(text.back(), '\n');
    EXPECT_EQ(text.find('\n'), text.size() - 1) << "one line";
    auto o = boost::json::parse(text).as_object();
    std::vector<std::string> keys;
    for (const auto& kv : o) keys.emplace_back(kv.key());
    EXPECT_EQ(keys, (std::vector<std::string>{"queue", "entry", "datasetId", "externalId",
                                              "batchId", "stagePath", "status", "attempts",
                                              "createdAt", "response"}));
    EXPECT_EQ(o.at("entry").as_string(), std::string_view("a\"b\\c\n\x01\xef\xbf\xbd"));
    EXPECT_EQ(o.at("datasetId"), "ds1");
    EXPECT_EQ(o.at("batchId"), "B1");
    EXPECT_EQ(o.at("stagePath"), "stage/B1");
    EXPECT_EQ(o.at("status"), "loading");
    EXPECT_EQ(o.at("attempts"), 2);
    EXPECT_EQ(o.at("response").at("n"), boost::json::parse("[1,2]"));

    // A batch found through Catalog for a torn entry: no stage path, no dataset id known.
    create_result found;
    found.batch_id = "B2";
    found.response = R"({"id":"B2"})";
    f.dataset_id = "";
    f.recovered = true;
    o = boost::json::parse(done_record_text(f, found)).as_object();
    EXPECT_TRUE(o.at("datasetId").is_null());
    EXPECT_TRUE(o.at("stagePath").is_null());
    EXPECT_EQ(o.at("recovered"), true);
    EXPECT_EQ(o.at("response").at("id"), "B2");
}

TEST(Classify, UnreadableCreatedIsAmbiguousNotSuccess) {
    EXPECT_EQ(classify_create_response(201, R"({"status":"loading"})", "", now).outcome,
              create_result::kind::ambiguous);
    EXPECT_EQ(classify_create_response(201, R"({"id":""})", "", now).outcome,
              create_result::kind::ambiguous);
    EXPECT_EQ(classify_create_response(201, R"({"id":"B1")", "", now).outcome,
              create_result::kind::ambiguous);
    EXPECT_EQ(classify_create_response(201, "[]", "", now).outcome, create_result::kind::ambiguous);
}

TEST(Classify, StatusClasses) {
    for (unsigned s : {408u, 429u, 500u, 502u, 503u, 504u, 599u}) {
        EXPECT_EQ(classify_create_response(s, "", "", now).outcome, create_result::kind::transient)
            << s;
    }
    for (unsigned s : {400u, 403u, 404u, 409u, 413u, 414u, 415u, 422u}) {
        EXPECT_EQ(classify_create_response(s, "", "", now).outcome, create_result::kind::permanent)
            << s;
    }
    EXPECT_EQ(classify_create_response(401, "", "", now).outcome,
              create_result::kind::unauthorized);
    EXPECT_EQ(classify_create_response(200, "{}", "", now).outcome, create_result::kind::ambiguous);
}

TEST(RetryAfter, SecondsAndHttpDates) {
    EXPECT_EQ(parse_retry_after("3", now), std::chrono::milliseconds(3000));
    EXPECT_EQ(parse_retry_after(" 0 ", now), std::chrono::milliseconds(0));
    EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now),
              std::chrono::milliseconds(10000));
    EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
              std::chrono::milliseconds(0));
    EXPECT_EQ(parse_retry_after("99999999", now), std::chrono::milliseconds(24LL * 3600 * 1000));
    EXPECT_FALSE(parse_retry_after("", now));
    EXPECT_FALSE(parse_retry_after("soon", now));
    EXPECT_FALSE(parse_retry_after("-1", now));
    EXPECT_FALSE(parse_retry_after("3s", now));
    // Found by fuzz_http_response: a far-future date overflowed the clock conversion.
    EXPECT_EQ(parse_retry_after("Wed, 21 Oct 9015 07:28:00 GMT", now),
              std::chrono::milliseconds(24LL * 3600 * 1000));
    EXPECT_EQ(parse_retry_after("Wed, 21 Oct 1015 07:28:00 GMT", now),
              std::chrono::milliseconds(0));
    auto r = classify_create_response(429, "", "2", now);
    EXPECT_EQ(r.retry_after, std::chrono::milliseconds(2000));
}

TEST(CatalogLookup, RequestEncodesTheExternalId) {
    platform_config p;
    p.org_id = "o";
    p.api_key = "k";
    auto ep = *parse_endpoint("https://platform.adobe.io/data/foundation/catalog").value;
    auto req = catalog_lookup_request(ep, {p, "prod", "tok"}, "/a b&c");
    EXPECT_EQ(req.method(), http::verb::get);
    EXPECT_EQ(req.target(),
              "/data/foundation/catalog/batches?externalId=%2Fa%20b%26c"
              "&orderBy=asc:created&limit=100");
    EXPECT_EQ(req["x-sandbox-name"], "prod");
}

TEST(CatalogLookup, FindsOnlyTheMatchingExternalId) {
    const char* body = R"({"B1":{"externalId":"other","tags":{"acp_stagePath":["s1"]}},
                           "B2":{"id":"B2","externalId":"mine","status":"loading","tags":{"acp_stagePath":["s2"]}}})";
    auto r = parse_catalog_lookup(200, body, "mine");
    ASSERT_EQ(r.outcome, lookup_result::kind::found);
    EXPECT_EQ(r.batch.batch_id, "B2");
    EXPECT_EQ(r.batch.stage_path, "s2");
    EXPECT_EQ(parse_catalog_lookup(200, body, "absent").outcome, lookup_result::kind::not_found);
    EXPECT_EQ(parse_catalog_lookup(200, "{}", "x").outcome, lookup_result::kind::not_found);
    EXPECT_EQ(parse_catalog_lookup(404, "", "x").outcome, lookup_result::kind::not_found);
    EXPECT_EQ(parse_catalog_lookup(401, "", "x").outcome, lookup_result::kind::unauthorized);
    EXPECT_EQ(parse_catalog_lookup(500, "", "x").outcome, lookup_result::kind::error);
    EXPECT_EQ(parse_catalog_lookup(200, "not json", "x").outcome, lookup_result::kind::error);
}

TEST(CatalogLookup, IdFallsBackToTheKey) {
    auto r = parse_catalog_lookup(200, R"({"B9":{"externalId":"x"}})", "x");
    ASSERT_EQ(r.outcome, lookup_result::kind::found);
    EXPECT_EQ(r.batch.batch_id, "B9");
}

}  // namespace
}  // namespace aep
