// An entry's progress record: what it keeps, that it stays small, and that nothing else passes
// for one.
#include "aep/progress.hpp"

#include <gtest/gtest.h>

using namespace aep;

TEST(Progress, RoundTripsInWholeSeconds) {
    entry_progress p;
    p.attempts = 3;
    p.claimed_ms = 1796135700123;
    p.sent_ms = 1796135760456;
    p.last_status = 503;
    const auto text = encode_progress(p);
    EXPECT_EQ(text, "3 1796135700 1796135760 503");
    entry_progress seconds = p;
    seconds.claimed_ms = 1796135700000;
    seconds.sent_ms = 1796135760000;
    EXPECT_EQ(decode_progress(text), seconds);
    p.last_status = 0;  // no answer
    EXPECT_EQ(decode_progress(encode_progress(p))->last_status, 0u);
    const entry_progress empty;
    EXPECT_EQ(encode_progress(empty), "0 0 0");
    EXPECT_EQ(decode_progress("0 0 0"), empty);
}

TEST(Progress, FitsBesideAStampInTheInode) {
    // ext4 keeps a value of up to 68 bytes in place beside a 4-character name: the 37 of a
    // daemon's externalId, a space, and the progress.
    entry_progress p;
    p.attempts = 100;
    p.claimed_ms = 4102444800000;  // 2100
    p.sent_ms = 4102444800000;
    p.last_status = 503;
    EXPECT_LE(37 + 1 + encode_progress(p).size(), 68u);
}

TEST(Progress, AnythingElseIsRefused) {
    for (const char* bad : {"", "x", "1", "1 2", "1 2 3 4 5", "-1 0 0", "1 -2 0", "1 2 x",
                            "1 2 3 ", " 1 2 3", "1  2 3", "1000 0 0", "1 2 3 1000",
                            "1.5 2 3", "1 99999999999999999999 3", "{\"v\":1}"}) {
        EXPECT_FALSE(decode_progress(bad)) << '"' << bad << '"';
    }
}
