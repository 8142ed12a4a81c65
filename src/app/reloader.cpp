#include "app/reloader.hpp"

#include "io/spool_access.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <time.h>

namespace aep {

namespace asio = boost::asio;

void reloader::request() {
    if (!t_.run.stopping()) asio::co_spawn(ioc_, reload(), asio::detached);
}

void reloader::started() {
    started_ = true;
    if (reload_again_) asio::co_spawn(ioc_, reload(), asio::detached);
}

// A configuration with any error is refused whole and the running one stays; a good one takes
// effect without dropping anything: requests in flight finish with the settings they started
// with, entries of a removed queue stay in its spool, and an added queue is scanned like at
// start.
asio::awaitable<void> reloader::reload() {
    if (reloading_ || !started_) {
        reload_again_ = true;  // run once the current reload (or start-up) is over
        co_return;
    }
    reloading_ = true;
    do {
        reload_again_ = false;
        timespec ts{};
        ::clock_gettime(CLOCK_MONOTONIC, &ts);
        const auto usec = static_cast<std::uint64_t>(ts.tv_sec) * 1000000u +
                          static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
        t_.notify.send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) +
                       "\nSTATUS=reloading the configuration");
        t_.log.info("reloading the configuration", {{"config", t_.config_path}});
        const std::string path = t_.config_path;
        const auto load = [path] { return load_checked_config(path); };
        checked_config next;
        try {
            next = co_await t_.files.run(load);
        } catch (const std::exception& e) {
            next.errors.push_back(e.what());
        }
        ++t_.status.reloads;
        bool applied = false;
        if (next.ok()) {
            try {
                applied = co_await apply(next);
            } catch (const std::exception& e) {
                next.errors.push_back(e.what());
            }
        }
        if (!applied) {
            ++t_.status.reload_failures;
            for (const auto& e : next.errors) {
                t_.log.error("reload refused; the running configuration stays",
                             {{"config", t_.config_path}, {"error", e}});
            }
        }
        if (t_.run.stopping()) break;
        t_.notify.send("READY=1\nSTATUS=" + t_.status.status());
    } while (reload_again_ && !t_.run.stopping());
    reloading_ = false;
}

// New spools must be usable: made (or checked) before anything changes.
asio::awaitable<void> reloader::prepare_spools(checked_config& next, const reload_plan& plan) {
    const config& n = next.cfg;
    for (std::size_t i = 0; i < n.queues.size(); ++i) {
        if (!plan.queues[i].starts()) continue;
        const queue_config& qc = n.queues[i];
        const std::string dir = qc.spool;
        std::vector<std::string> layout_warnings;
        const auto prepare = [dir, &layout_warnings] {
            layout_warnings = spool(dir).ensure_layout(daemon_spool_owner());
            return true;
        };
        try {
            co_await t_.files.run(prepare);
            for (const auto& w : layout_warnings) t_.log.warn(w, {{"queue", qc.name}});
        } catch (const std::exception& e) {
            next.errors.push_back(std::string("queue '") + qc.name + "': " + e.what());
        }
    }
}

// A new metrics address must be free: a refused reload leaves the old listener where it was.
// Returns the new listener (null when the address did not change, or is now empty).
std::unique_ptr<metrics_server> reloader::open_metrics(checked_config& next) {
    const std::string& listen = next.cfg.metrics.listen;
    std::unique_ptr<metrics_server> opened;
    if (listen == t_.cfg.metrics.listen || listen.empty()) return opened;
    auto& old = t_.status.listener();
    try {
        opened = t_.status.open(listen);
    } catch (const std::exception& first) {
        std::string why = first.what();
        if (old) {
            // The old listener may hold that very address: close it and try again, and when
            // that fails too, put it back on the port it had.
            const std::string old_at = old->local_address();
            old->stop();
            try {
                opened = t_.status.open(listen);
            } catch (const std::exception& second) {
                why = second.what();
                old = t_.status.open(old_at);
            }
        }
        if (!opened) next.errors.push_back(why);
    }
    return opened;
}

// Queues are matched by spool directory: one that stays keeps its pending entries. The removed
// ones are retired first, while `plan`'s indices still name the queues as they were. Returns
// the queues to start.
std::vector<spool_queue*> reloader::commit_queues(const config& n, const reload_plan& plan,
                                                  std::string& removed_names) {
    auto& queues = t_.in.queues();
    for (const std::size_t i : plan.removed) {
        spool_queue& q = *queues[i];
        t_.in.retire(q);
        removed_names += (removed_names.empty() ? "" : ",") + q.cfg.name;
    }
    std::vector<spool_queue*> added;
    for (std::size_t i = 0; i < n.queues.size(); ++i) {
        const auto& p = plan.queues[i];
        spool_queue* q = nullptr;
        if (p.running) {
            q = queues[*p.running].get();
            q->cfg = n.queues[i];
            if (p.revived) t_.in.revive(*q);
        } else {
            q = &t_.in.add_queue(n.queues[i]);
        }
        if (p.starts()) added.push_back(q);
    }
    return added;
}

asio::awaitable<bool> reloader::apply(checked_config& next) {
    config& n = next.cfg;
    std::vector<running_queue> running;
    for (const auto& q : t_.in.queues()) running.push_back({&q->cfg, q->retired});
    const reload_plan plan = plan_reload(t_.cfg, running, n);
    // First everything that can fail, before anything changes.
    co_await prepare_spools(next, plan);
    if (!next.errors.empty() || t_.run.stopping()) co_return false;
    const bool metrics_moved = n.metrics.listen != t_.cfg.metrics.listen;
    auto new_metrics = open_metrics(next);
    if (!next.errors.empty() || t_.run.stopping()) co_return false;

    // Then everything at once.
    std::vector<std::string> changed = plan.changed;
    t_.log.set_config(n.log);
    if (t_.tokens.reconfigure(n.auth, std::move(next.secret))) changed.push_back("secret");
    // TLS files may have changed on disk under the same names: always take the new context.
    t_.client.reconfigure(next.tls, n.http.request_timeout, std::move(next.proxy));
    if (metrics_moved) {
        auto& listener = t_.status.listener();
        if (listener) listener->stop();
        listener = std::move(new_metrics);
    }
    std::string added_names, removed_names;
    const auto added = commit_queues(n, plan, removed_names);
    for (auto* q : added) added_names += (added_names.empty() ? "" : ",") + q->cfg.name;
    const int old_concurrency = t_.cfg.http.concurrency;
    t_.cfg = n;
    t_.api.reconfigure(t_.cfg);
    t_.work.spawn_to_target();
    if (t_.cfg.http.concurrency < old_concurrency) t_.in.wake_all();  // extra idle ones end

    std::string what;
    for (const auto& c : changed) what += (what.empty() ? "" : ",") + c;
    t_.log.info("configuration reloaded", {{"config", t_.config_path},
                                           {"changed", what.empty() ? "nothing" : what},
                                           {"queues_added", added_names},
                                           {"queues_removed", removed_names},
                                           {"queues", n.queues.size()},
                                           {"concurrency", t_.cfg.http.concurrency}});
    for (auto* q : added) {
        try {
            co_await t_.in.start_queue(*q);
        } catch (const std::exception& e) {
            // The spool was usable a moment ago; the periodic rescan tries again.
            t_.log.error("cannot start an added queue; will retry",
                         {{"queue", q->cfg.name}, {"error", e.what()}});
        }
    }
    t_.on_change();
    co_return true;
}

}  // namespace aep
