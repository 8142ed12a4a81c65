#include "io/inotify_watcher.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <sys/inotify.h>

namespace aep {
namespace {

void append(std::vector<char>& buf, int wd, std::uint32_t mask, const std::string& name,
            std::size_t pad) {
    inotify_event ev{};
    ev.wd = wd;
    ev.mask = mask;
    ev.len = static_cast<std::uint32_t>(name.empty() ? 0 : name.size() + pad);
    const auto* p = reinterpret_cast<const char*>(&ev);
    buf.insert(buf.end(), p, p + sizeof ev);
    if (ev.len) {
        buf.insert(buf.end(), name.begin(), name.end());
        buf.insert(buf.end(), pad, '\0');
    }
}

TEST(InotifyDecode, NamesAreTrimmedOfPadding) {
    std::vector<char> buf;
    append(buf, 1, IN_MOVED_TO, "entry-1", 9);
    append(buf, 2, IN_CLOSE_WRITE, "b", 3);
    auto d = decode_inotify(buf);
    ASSERT_EQ(d.events.size(), 2u);
    EXPECT_EQ(d.events[0].watch, 1);
    EXPECT_EQ(d.events[0].name, "entry-1");
    EXPECT_EQ(d.events[1].name, "b");
    EXPECT_EQ(d.events[1].mask, static_cast<std::uint32_t>(IN_CLOSE_WRITE));
    EXPECT_EQ(d.consumed, buf.size());
    EXPECT_FALSE(d.overflow);
}

TEST(InotifyDecode, OverflowIsReported) {
    std::vector<char> buf;
    append(buf, -1, IN_Q_OVERFLOW, "", 0);
    auto d = decode_inotify(buf);
    EXPECT_TRUE(d.overflow);
}

TEST(InotifyDecode, PartialRecordIsLeftUnconsumed) {
    std::vector<char> buf;
    append(buf, 1, IN_MOVED_TO, "whole", 3);
    const auto whole = buf.size();
    append(buf, 1, IN_MOVED_TO, "cut-short", 7);
    buf.resize(buf.size() - 4);
    auto d = decode_inotify(buf);
    ASSERT_EQ(d.events.size(), 1u);
    EXPECT_EQ(d.consumed, whole);
    EXPECT_TRUE(decode_inotify(std::span<const char>(buf.data(), 5)).events.empty());
}

TEST(InotifyDecode, LenClaimingMoreThanTheBufferIsNotReadPast) {
    std::vector<char> buf;
    inotify_event ev{};
    ev.len = 1u << 30;
    const auto* p = reinterpret_cast<const char*>(&ev);
    buf.insert(buf.end(), p, p + sizeof ev);
    auto d = decode_inotify(buf);
    EXPECT_TRUE(d.events.empty());
    EXPECT_EQ(d.consumed, 0u);
}

}  // namespace
}  // namespace aep
