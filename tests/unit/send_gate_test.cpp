#include "policy/send_gate.hpp"

#include <gtest/gtest.h>

namespace aep {
namespace {

using namespace std::chrono_literals;

long long ms_after(steady_time t, steady_time base) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t - base).count();
}

TEST(SendGate, UnlimitedWhenRateIsZero) {
    const steady_time t0 = steady_time{} + 1h;
    send_gate g(0, 1);
    for (int i = 0; i < 1000; ++i) {
        EXPECT_EQ(g.ready_at(t0), t0);
        g.take(t0);
    }
}

TEST(SendGate, BurstThenSteadyRate) {
    const steady_time t0 = steady_time{} + 1h;
    send_gate g(120, 4);  // 2 per second, 4 at once
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(g.ready_at(t0), t0) << "request " << i << " of the burst";
        g.take(t0);
    }
    EXPECT_EQ(ms_after(g.ready_at(t0), t0), 500);
    // Sending whenever allowed: 20 more requests take 10 s.
    steady_time now = t0;
    for (int i = 0; i < 20; ++i) {
        now = g.ready_at(now);
        g.take(now);
    }
    EXPECT_NEAR(ms_after(now, t0), 10000, 2);
}

TEST(SendGate, ReloadChangesTheRateAndKeepsAPause) {
    const steady_time t0 = steady_time{} + 1h;
    send_gate g(60, 2);  // 1 per second
    g.take(t0);
    g.take(t0);
    EXPECT_EQ(ms_after(g.ready_at(t0), t0), 1000);
    g.pause(t0, 5s);
    g.set_rate(0, 2);  // unlimited now, but the server's pause still holds
    EXPECT_EQ(ms_after(g.ready_at(t0), t0), 5000);
    EXPECT_EQ(g.ready_at(t0 + 5s), t0 + 5s);
    g.set_rate(600, 1);  // limited again: 10 per second, burst 1
    const auto at = g.ready_at(t0 + 6s);
    g.take(at);
    EXPECT_EQ(ms_after(g.ready_at(at), at), 100);
}

TEST(SendGate, IdleTimeRefillsOnlyUpToTheBurst) {
    const steady_time t0 = steady_time{} + 1h;
    send_gate g(60, 3);
    for (int i = 0; i < 3; ++i) g.take(t0);
    const auto later = t0 + 1h;
    int sent = 0;
    while (g.ready_at(later) == later) {
        g.take(later);
        ++sent;
    }
    EXPECT_EQ(sent, 3);
}

TEST(SendGate, PauseHoldsEveryoneAndNeverShrinks) {
    const steady_time t0 = steady_time{} + 1h;
    send_gate g(0, 1);
    g.pause(t0, 2s);
    EXPECT_EQ(ms_after(g.ready_at(t0), t0), 2000);
    EXPECT_EQ(ms_after(g.ready_at(t0 + 1s), t0), 2000);
    g.pause(t0 + 1s, 100ms);  // a shorter, later pause does not cut the first one short
    EXPECT_EQ(ms_after(g.paused_until(), t0), 2000);
    g.pause(t0 + 1s, 3s);
    EXPECT_EQ(ms_after(g.ready_at(t0 + 1s), t0), 4000);
    EXPECT_EQ(g.ready_at(t0 + 5s), t0 + 5s);
}

TEST(SendGate, PauseAndRateCombine) {
    const steady_time t0 = steady_time{} + 1h;
    send_gate g(60, 1);
    g.take(t0);
    g.pause(t0, 200ms);
    EXPECT_EQ(ms_after(g.ready_at(t0), t0), 1000) << "the rate limit is the later of the two";
}

}  // namespace
}  // namespace aep
