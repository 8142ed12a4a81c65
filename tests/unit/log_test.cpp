#include "log.hpp"

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <stdexcept>

namespace aep {
namespace {

class LogTest : public ::testing::Test {
  protected:
    void SetUp() override { ::unsetenv("JOURNAL_STREAM"); }
};

TEST_F(LogTest, SafeValuesStayBareOthersAreQuotedAndEscaped) {
    EXPECT_EQ(escape_text_value("acp_foundation_push/stage/01ABC"),
              "acp_foundation_push/stage/01ABC");
    EXPECT_EQ(escape_text_value(""), "\"\"");
    EXPECT_EQ(escape_text_value("a b"), "\"a b\"");
    EXPECT_EQ(escape_text_value("x\nbatch created queue=evil"), "\"x\\nbatch created queue=evil\"");
    EXPECT_EQ(escape_text_value("q\"uote\\"), "\"q\\\"uote\\\\\"");
    EXPECT_EQ(escape_text_value("\x1b[31m\xff"), "\"\\x1b[31m\\xff\"");
}

TEST_F(LogTest, TextBatchLineHasTheDocumentedShape) {
    logger log(log_config{log_format::text, log_level::info}, -1);
    auto line = log.format_line(log_level::info, "batch created",
                                {{"queue", "prod"},
                                 {"dataset_id", "ds"},
                                 {"batch_id", "B1"},
                                 {"stage_path", "s/B1"},
                                 {"attempts", 1},
                                 {"latency_ms", std::int64_t{12}}});
    auto pos = line.find(
        "batch created queue=prod dataset_id=ds batch_id=B1 stage_path=s/B1 attempts=1 "
        "latency_ms=12\n");
    EXPECT_NE(pos, std::string::npos) << line;
    EXPECT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1);
}

TEST_F(LogTest, WarningsArePrefixedAndNewlinesInMessagesNeutralised) {
    logger log(log_config{log_format::text, log_level::info}, -1);
    auto line = log.format_line(log_level::warning, "two\nlines", {{"entry", "a\nb"}});
    EXPECT_NE(line.find("warning: two?lines entry=\"a\\nb\""), std::string::npos) << line;
    EXPECT_EQ(line.find('\n'), line.size() - 1);
}

TEST_F(LogTest, JsonLinesAreSingleValidObjects) {
    logger log(log_config{log_format::json, log_level::info}, -1);
    auto line =
        log.format_line(log_level::info, "batch created", {{"queue", "q\n\"x\""}, {"attempts", 2}});
    EXPECT_EQ(line.find('\n'), line.size() - 1);
    auto v = boost::json::parse(line).as_object();
    EXPECT_EQ(v.at("level"), "info");
    EXPECT_EQ(v.at("msg"), "batch created");
    EXPECT_EQ(v.at("queue"), "q\n\"x\"");
    EXPECT_EQ(v.at("attempts"), 2);
    EXPECT_TRUE(v.contains("ts"));
}

TEST_F(LogTest, JsonLinesStayValidWithInvalidUtf8) {
    logger log(log_config{log_format::json, log_level::info}, -1);
    auto line = log.format_line(log_level::warning, "entry failed",
                                {{"entry", "bad\xff\xfe name\xc3"}, {"ok", "caf\xc3\xa9"}});
    auto v = boost::json::parse(line).as_object();  // throws if the line is not valid JSON
    EXPECT_EQ(v.at("entry"), "bad\xef\xbf\xbd\xef\xbf\xbd name\xef\xbf\xbd");
    EXPECT_EQ(v.at("ok"), "caf\xc3\xa9");
}

TEST_F(LogTest, DescribeNamesAnyException) {
    EXPECT_EQ(describe(std::make_exception_ptr(std::runtime_error("disk gone"))), "disk gone");
    EXPECT_EQ(describe(std::make_exception_ptr(42)), "unknown exception");
    EXPECT_EQ(describe(nullptr), "no error");
}

TEST_F(LogTest, LevelsFilter) {
    logger log(log_config{log_format::text, log_level::warning}, -1);
    EXPECT_FALSE(log.enabled(log_level::info));
    EXPECT_TRUE(log.enabled(log_level::error));
}

}  // namespace
}  // namespace aep
