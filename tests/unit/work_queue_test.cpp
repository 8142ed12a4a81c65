#include "policy/work_queue.hpp"

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

TEST(WorkQueue, RetiredQueueForgetsPendingButLetsInFlightFinish) {
    work_queue w(1);
    const auto second = w.add_queue();
    EXPECT_EQ(second, 1u);
    w.add_incoming(1, "b1");
    w.add_incoming(1, "b2");
    auto item = w.take();
    ASSERT_TRUE(item);
    EXPECT_EQ(item->name, "b1");
    w.retire(1);
    EXPECT_EQ(w.pending(1), 0u);
    EXPECT_FALSE(w.add_incoming(1, "b3"));
    EXPECT_FALSE(w.add_resumed(1, "b4"));
    EXPECT_FALSE(w.take());
    EXPECT_EQ(w.in_flight(), 1u);
    EXPECT_FALSE(w.idle());
    // A twin of the in-flight name, arriving after the retirement, is not resurrected.
    EXPECT_FALSE(w.add_incoming(1, "b1"));
    EXPECT_FALSE(w.finish(*item));
    EXPECT_TRUE(w.idle());
    w.revive(1);
    EXPECT_TRUE(w.add_incoming(1, "b2"));
    EXPECT_EQ(w.take()->name, "b2");
}

TEST(WorkQueue, ResumedNameIsNotQueuedTwice) {
    work_queue w(1);
    EXPECT_TRUE(w.add_resumed(0, "x"));
    EXPECT_FALSE(w.add_resumed(0, "x"));
    auto item = w.take();
    EXPECT_FALSE(w.add_resumed(0, "x"));  // in flight
    EXPECT_EQ(w.pending(), 0u);
}

TEST(WorkQueue, OldestSeenIsTheLongestWaitingName) {
    using namespace std::chrono_literals;
    const work_queue::time_point t0{std::chrono::seconds(1000)};
    work_queue w(1);
    EXPECT_FALSE(w.oldest_seen(0));
    w.add_incoming(0, "a", t0 + 5s);
    w.add_incoming(0, "b", t0 + 7s);
    w.add_resumed(0, "r", t0 + 6s);
    EXPECT_EQ(*w.oldest_seen(0), t0 + 5s);
    (void)w.take();  // "r" (resumed first)
    EXPECT_EQ(*w.oldest_seen(0), t0 + 5s);
    auto a = w.take();
    EXPECT_EQ(a->seen, t0 + 5s);
    EXPECT_EQ(*w.oldest_seen(0), t0 + 7s);
    (void)w.take();
    EXPECT_FALSE(w.oldest_seen(0));
}

TEST(WorkQueue, ListedNameInFlightAsksForAnotherListingNotASecondTake) {
    work_queue w(1, 10);
    w.add_incoming(0, "a");
    auto a = w.take();
    ASSERT_TRUE(a);
    const auto before = w.listing_started(0);
    EXPECT_FALSE(w.add_listed(0, "a")) << "most likely the very file in flight";
    w.refilled(0, true, before);
    EXPECT_FALSE(w.needs_refill(0));
    const auto during = w.listing_started(0);  // a listing that began before the finish
    EXPECT_FALSE(w.finish(*a)) << "not deferred: nothing becomes pending";
    EXPECT_FALSE(w.take());
    EXPECT_TRUE(w.needs_refill(0)) << "a real twin may have come: list again";
    EXPECT_FALSE(w.idle());
    w.refilled(0, true, during);
    EXPECT_TRUE(w.needs_refill(0)) << "that listing may have missed it";
    const auto after = w.listing_started(0);
    EXPECT_TRUE(w.add_listed(0, "a")) << "the twin, listed after the finish";
    w.refilled(0, true, after);
    EXPECT_FALSE(w.needs_refill(0));
    auto twin = w.take();
    ASSERT_TRUE(twin);
    w.finish(*twin);
    EXPECT_TRUE(w.idle());
    // An event for a name in flight still defers it (a new file, certainly).
    w.add_incoming(0, "b");
    auto b = w.take();
    EXPECT_FALSE(w.add_incoming(0, "b"));
    EXPECT_TRUE(w.finish(*b));
    EXPECT_TRUE(w.take());
}

}  // namespace
}  // namespace aep
