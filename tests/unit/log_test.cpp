#include "io/log.hpp"

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fcntl.h>
#include <stdexcept>
#include <string>
#include <unistd.h>

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

// What a non-blocking pipe holds now.
std::string drain(int fd) {
    std::string out;
    char buf[4096];
    while (true) {
        const auto n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

TEST_F(LogTest, DeferredInfoLinesAreWrittenTogetherAndWarningsKeepTheOrder) {
    int p[2];
    ASSERT_EQ(::pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    {
        logger log(log_config{log_format::text, log_level::info}, p[1]);
        int scheduled = 0;
        log.defer_writes([&scheduled] { ++scheduled; });
        log.info("one");
        log.info("two");
        EXPECT_EQ(scheduled, 1);  // once per buffer, not once per line
        EXPECT_EQ(drain(p[0]), "");
        log.flush();
        auto text = drain(p[0]);
        EXPECT_NE(text.find(" one\n"), std::string::npos) << text;
        EXPECT_LT(text.find(" one\n"), text.find(" two\n"));
        log.info("three");
        EXPECT_EQ(scheduled, 2);
        log.warn("four");  // written at once, after what was gathered
        text = drain(p[0]);
        EXPECT_LT(text.find(" three\n"), text.find("warning: four\n")) << text;
        log.info("five");  // left for the destructor
        EXPECT_EQ(drain(p[0]), "");
    }
    EXPECT_NE(drain(p[0]).find(" five\n"), std::string::npos);
    ::close(p[0]);
    ::close(p[1]);
}

TEST_F(LogTest, UtcTimestampsAreTheCurrentTimeToTheMillisecond) {
    using namespace std::chrono;
    // Across at least one change of second, where the cached date and time are formatted anew.
    const auto first = system_clock::to_time_t(system_clock::now());
    bool crossed = false;
    while (!crossed) {
        const auto before = time_point_cast<milliseconds>(system_clock::now());
        const auto ts = utc_timestamp();
        const auto after = system_clock::now();
        ASSERT_EQ(ts.size(), 24u) << ts;
        std::tm tm{};
        ASSERT_NE(::strptime(ts.c_str(), "%Y-%m-%dT%H:%M:%S", &tm), nullptr) << ts;
        ASSERT_EQ(ts.substr(19, 1), ".");
        ASSERT_EQ(ts.substr(23), "Z");
        const auto at =
            system_clock::from_time_t(::timegm(&tm)) + milliseconds(std::stoi(ts.substr(20, 3)));
        EXPECT_LE(before, at) << ts;
        EXPECT_LE(at, after) << ts;
        crossed = system_clock::to_time_t(after) > first;
    }
}

}  // namespace
}  // namespace aep
