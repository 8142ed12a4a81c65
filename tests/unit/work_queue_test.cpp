#include "work_queue.hpp"

#include <gtest/gtest.h>

namespace aep {
namespace {

TEST(WorkQueue, DeduplicatesAndIgnoresHiddenNames) {
    work_queue w(1);
    EXPECT_TRUE(w.add_incoming(0, "a"));
    EXPECT_FALSE(w.add_incoming(0, "a"));
    EXPECT_FALSE(w.add_incoming(0, ".tmp"));
    EXPECT_FALSE(w.add_incoming(0, ""));
    EXPECT_EQ(w.pending(), 1u);
}

TEST(WorkQueue, RoundRobinAcrossQueues) {
    work_queue w(2);
    for (auto n : {"a1", "a2", "a3"}) w.add_incoming(0, n);
    w.add_incoming(1, "b1");
    std::vector<std::string> order;
    while (auto item = w.take()) order.push_back(item->name);
    EXPECT_EQ(order, (std::vector<std::string>{"a1", "b1", "a2", "a3"}));
    EXPECT_EQ(w.in_flight(), 4u);
}

TEST(WorkQueue, ResumedEntriesGoFirst) {
    work_queue w(1);
    w.add_incoming(0, "new");
    w.add_resumed(0, "old");
    auto first = w.take();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->name, "old");
    EXPECT_TRUE(first->resumed);
    auto second = w.take();
    EXPECT_EQ(second->name, "new");
    EXPECT_FALSE(second->resumed);
}

TEST(WorkQueue, TwinOfAnInFlightNameWaitsForIt) {
    work_queue w(1);
    w.add_incoming(0, "x");
    auto first = w.take();
    ASSERT_TRUE(first);
    EXPECT_FALSE(w.add_incoming(0, "x"));  // arrives while x is in flight
    EXPECT_FALSE(w.take());
    EXPECT_TRUE(w.finish(*first));  // now it becomes pending
    auto again = w.take();
    ASSERT_TRUE(again);
    EXPECT_EQ(again->name, "x");
    EXPECT_FALSE(w.finish(*again));
    EXPECT_TRUE(w.idle());
}

TEST(WorkQueue, ResumedAndIncomingTwinsAreNotClaimedTogether) {
    work_queue w(1);
    w.add_resumed(0, "x");
    w.add_incoming(0, "x");
    auto first = w.take();
    ASSERT_TRUE(first);
    EXPECT_TRUE(first->resumed);
    EXPECT_FALSE(w.take()) << "the incoming twin must wait for the resumed one";
    EXPECT_TRUE(w.finish(*first));
    auto second = w.take();
    ASSERT_TRUE(second);
    EXPECT_FALSE(second->resumed);
}

TEST(WorkQueue, IdleOnlyWhenNothingPendingOrInFlight) {
    work_queue w(2);
    EXPECT_TRUE(w.idle());
    w.add_incoming(1, "a");
    EXPECT_FALSE(w.idle());
    auto item = w.take();
    EXPECT_FALSE(w.idle());
    w.finish(*item);
    EXPECT_TRUE(w.idle());
}

TEST(WorkQueue, HoldsAtMostMaxPendingAndAsksForARefillAtHalf) {
    work_queue w(1, 4);
    for (int i = 0; i < 6; ++i) w.add_incoming(0, "e" + std::to_string(i));
    EXPECT_EQ(w.pending(), 4u) << "names beyond the cap stay on disk";
    EXPECT_TRUE(w.overflowed(0));
    EXPECT_FALSE(w.needs_refill(0));
    auto a = w.take();
    EXPECT_FALSE(w.needs_refill(0));
    auto b = w.take();
    EXPECT_TRUE(w.needs_refill(0)) << "drained to half: list incoming/ again";
    EXPECT_FALSE(w.idle()) << "not idle while names wait on disk";
    w.finish(*a);
    w.finish(*b);
    for (int i = 0; i < 6; ++i) w.add_incoming(0, "e" + std::to_string(i));  // the relisting
    w.refilled(0, true);
    EXPECT_TRUE(w.overflowed(0)) << "it filled up again while relisting";
    while (auto item = w.take()) w.finish(*item);
    w.refilled(0, true);
    EXPECT_FALSE(w.overflowed(0));
    EXPECT_TRUE(w.idle());
}

}  // namespace
}  // namespace aep
