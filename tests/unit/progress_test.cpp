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

namespace aep {
namespace {

TEST(FullProgress, RoundTripsAndRefusesWhatIsNotOne) {
    full_progress p{"01JBATCHXYZ", {true, true, false, false, true}, 1796135700123};
    EXPECT_EQ(encode_full_progress(p), "01JBATCHXYZ 1796135700123 31");
    EXPECT_EQ(decode_full_progress(encode_full_progress(p), 5), p);
    full_progress fresh{"B", std::vector<bool>(1500, false), std::nullopt};
    const auto text = encode_full_progress(fresh);
    EXPECT_EQ(text.size(), 2 + 2 + 375u) << "1 500 files in 375 digits";
    EXPECT_EQ(decode_full_progress(text, 1500), fresh);
    for (const char* bad : {"", "B", "B -", "B - 3 ", "B x 3", "B -5 3", "B - g", "B - 3f",
                            "B/../x - 1", "B - 8"}) {
        EXPECT_FALSE(decode_full_progress(bad, 3)) << bad;
    }
    EXPECT_FALSE(decode_full_progress("B - 1", 5)) << "another entry's file count";
}

}  // namespace
}  // namespace aep
