// An entry's progress record: what it keeps, and that nothing else passes for one.
#include "aep/progress.hpp"

#include <gtest/gtest.h>

using namespace aep;

TEST(Progress, RoundTrips) {
    entry_progress p;
    p.attempts = 3;
    p.claimed_ms = 1764547200123;
    p.sent_ms = 1764547260456;
    p.last_error = "HTTP 503: \"Service unavailable\"\n";
    p.batch_id = "01JBATCH";
    const auto text = encode_progress(p);
    EXPECT_EQ(text.find('\n'), std::string::npos);
    EXPECT_EQ(decode_progress(text), p);
    const entry_progress empty;
    EXPECT_EQ(decode_progress(encode_progress(empty)), empty);
    EXPECT_EQ(encode_progress(empty), R"({"v":1,"attempts":0})");
}

TEST(Progress, LongErrorsAreCut) {
    entry_progress p;
    p.attempts = 1;
    p.last_error = std::string(5000, 'x');
    const auto text = encode_progress(p);
    EXPECT_LT(text.size(), 1024u);
    EXPECT_EQ(decode_progress(text)->last_error.size(), 512u);
}

TEST(Progress, AnythingElseIsRefused) {
    for (const char* bad :
         {"", "x", "[]", "{}", R"({"v":2,"attempts":1})", R"({"v":1})",
          R"({"v":1,"attempts":-1})", R"({"v":1,"attempts":"3"})", R"({"v":1,"attempts":1.5})",
          R"({"v":1,"attempts":1,"claimed":-5})", R"({"v":1,"attempts":1,"last":7})",
          R"({"v":1,"attempts":99999999999})", R"({"v":1,"attempts":1)"}) {
        EXPECT_FALSE(decode_progress(bad)) << bad;
    }
    EXPECT_TRUE(decode_progress(R"({"v":1,"attempts":1,"later":"ignored"})"));
}
