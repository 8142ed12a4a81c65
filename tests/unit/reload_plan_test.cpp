// The reload decision (reload_plan): which sections changed, and which queues are kept, added,
// revived or removed, stepped with configurations built by hand.
#include "policy/reload_plan.hpp"

#include <gtest/gtest.h>

using namespace aep;

namespace {

queue_config queue(const std::string& name, const std::string& spool) {
    queue_config q;
    q.name = name;
    q.spool = spool;
    q.sandbox = "prod";
    return q;
}

config with_queues(std::vector<queue_config> queues) {
    config c;
    c.queues = std::move(queues);
    return c;
}

std::vector<running_queue> running_of(const config& c, std::vector<bool> retired = {}) {
    std::vector<running_queue> r;
    for (std::size_t i = 0; i < c.queues.size(); ++i)
        r.push_back({&c.queues[i], i < retired.size() && retired[i]});
    return r;
}

}  // namespace

TEST(ReloadPlan, NothingChanged) {
    const auto c = with_queues({queue("a", "/s/a")});
    const auto p = plan_reload(c, running_of(c), c);
    EXPECT_TRUE(p.changed.empty());
    ASSERT_EQ(p.queues.size(), 1u);
    EXPECT_EQ(p.queues[0].running, 0u);
    EXPECT_FALSE(p.queues[0].starts());
    EXPECT_TRUE(p.removed.empty());
}

TEST(ReloadPlan, EachSectionIsNamedInTheConfigurationsOrder) {
    const auto c = with_queues({queue("a", "/s/a")});
    auto n = c;
    n.metrics.listen = "127.0.0.1:9464";
    n.platform.org_id = "other@AdobeOrg";
    n.http.concurrency = 3;
    n.log.level = log_level::debug;
    EXPECT_EQ(plan_reload(c, running_of(c), n).changed,
              (std::vector<std::string>{"platform", "http", "log", "metrics"}));
    n = c;
    n.auth.client_id = "x";
    n.tls.ca_file = "/ca.pem";
    n.retry.max_attempts = 2;
    EXPECT_EQ(plan_reload(c, running_of(c), n).changed,
              (std::vector<std::string>{"auth", "tls", "retry"}));
}

TEST(ReloadPlan, QueuesAreMatchedBySpoolNotByName) {
    const auto c = with_queues({queue("a", "/s/a"), queue("b", "/s/b")});
    // b renamed, its spool written with a trailing slash; a removed; c added.
    const auto n = with_queues({queue("c", "/s/c"), queue("bee", "/s/b/")});
    const auto p = plan_reload(c, running_of(c), n);
    EXPECT_EQ(p.changed, std::vector<std::string>{"queues"});
    ASSERT_EQ(p.queues.size(), 2u);
    EXPECT_FALSE(p.queues[0].running) << "c is new";
    EXPECT_TRUE(p.queues[0].starts());
    EXPECT_EQ(p.queues[1].running, 1u) << "bee keeps b's state and pending entries";
    EXPECT_FALSE(p.queues[1].starts());
    EXPECT_EQ(p.removed, std::vector<std::size_t>{0});
}

TEST(ReloadPlan, ARemovedQueueNamedAgainIsRevived) {
    // Running: a (retired by an earlier reload) and b.
    const auto current = with_queues({queue("b", "/s/b")});
    const auto all = with_queues({queue("a", "/s/a"), queue("b", "/s/b")});
    const auto running = running_of(all, {true, false});
    const auto n = with_queues({queue("a", "/s/a"), queue("b", "/s/b")});
    const auto p = plan_reload(current, running, n);
    ASSERT_EQ(p.queues.size(), 2u);
    EXPECT_EQ(p.queues[0].running, 0u);
    EXPECT_TRUE(p.queues[0].revived);
    EXPECT_TRUE(p.queues[0].starts()) << "a revived queue is scanned like at start";
    EXPECT_FALSE(p.queues[1].revived);
    EXPECT_TRUE(p.removed.empty());
}

TEST(ReloadPlan, ARetiredQueueIsNotRemovedTwice) {
    const auto all = with_queues({queue("a", "/s/a"), queue("b", "/s/b")});
    const auto current = with_queues({queue("b", "/s/b")});
    const auto n = with_queues({queue("c", "/s/c")});
    const auto p = plan_reload(current, running_of(all, {true, false}), n);
    EXPECT_EQ(p.removed, std::vector<std::size_t>{1}) << "only b; a was retired already";
    ASSERT_EQ(p.queues.size(), 1u);
    EXPECT_TRUE(p.queues[0].starts());
}
