// The one hex encoder and random source (random_id).
#include "io/random_id.hpp"

#include <gtest/gtest.h>

#include <set>

using namespace aep;

TEST(RandomId, HexIsLowerCaseTwoDigitsPerByte) {
    const unsigned char bytes[] = {0x00, 0x0f, 0xa5, 0xff};
    EXPECT_EQ(to_hex(bytes, sizeof bytes), "000fa5ff");
    EXPECT_EQ(to_hex(bytes, 0), "");
}

TEST(RandomId, RandomHexHasTheLengthAskedAndDiffers) {
    std::set<std::string> seen;
    for (int i = 0; i < 100; ++i) {
        const auto h = random_hex(16);
        ASSERT_EQ(h.size(), 32u);
        EXPECT_EQ(h.find_first_not_of("0123456789abcdef"), std::string::npos) << h;
        seen.insert(h);
    }
    EXPECT_EQ(seen.size(), 100u);
}
