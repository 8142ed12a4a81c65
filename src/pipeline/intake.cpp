#include "pipeline/intake.hpp"

#include "io/spool_access.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/inotify.h>
#include <sys/stat.h>

namespace aep {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
constexpr auto rescan_interval = 60s;  // safety net for events inotify could not deliver
}  // namespace

intake::intake(pipeline_context& ctx, std::string boot_id, std::function<void()> on_change)
    : ctx_(ctx),
      boot_id_(std::move(boot_id)),
      on_change_(std::move(on_change)),
      work_ready_(ctx.ioc),
      rescan_timer_(ctx.ioc) {
    work_ready_.expires_at(std::chrono::steady_clock::time_point::max());
}

intake::~intake() = default;

spool_queue& intake::add_queue(const queue_config& cfg) {
    queues_.push_back(std::make_unique<spool_queue>(work_.add_queue(), cfg));
    return *queues_.back();
}

void intake::open_watcher() {
    watcher_ = std::make_unique<inotify_watcher>(ctx_.ioc.get_executor());
}

void intake::add_pending(spool_queue& q, const std::string& name) {
    if (work_.add_incoming(q.index, name, std::chrono::steady_clock::now())) notify_work(1);
}

void intake::notify_work(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        if (work_ready_.cancel_one() == 0) break;
    }
}

void intake::wake_all() { work_ready_.cancel(); }

asio::awaitable<void> intake::wait_for_work() { co_await work_ready_.async_wait(nothrow); }

std::optional<work_item> intake::take() {
    auto item = work_.take();
    maybe_refill();
    return item;
}

void intake::finish(const work_item& item) {
    if (work_.finish(item)) notify_work(1);  // a twin that arrived meanwhile became pending
    maybe_refill();  // a name listed while this one was in flight asks for another listing
}

void intake::retire(spool_queue& q) {
    q.retired = true;
    work_.retire(q.index);
    if (watcher_ && q.watch >= 0) watcher_->remove_watch(q.watch);
    q.watch = -1;
}

void intake::revive(spool_queue& q) {
    q.retired = false;
    work_.revive(q.index);
}

void intake::stop() {
    work_ready_.cancel();
    rescan_timer_.cancel();
    if (watcher_) watcher_->close();
}

asio::awaitable<void> intake::scan(spool_queue& q, bool include_processing, bool quiet) {
    const spool* sp = &q.sp;
    if (include_processing) {
        const auto op = [sp] { return sp->list("processing"); };
        auto names = co_await ctx_.files.run(op);
        std::size_t resumed = 0;
        const auto now = std::chrono::steady_clock::now();
        for (const auto& n : names) resumed += work_.add_resumed(q.index, n, now) ? 1 : 0;
        if (resumed > 0) {
            ctx_.log.log(quiet ? log_level::debug : log_level::info,
                         "resuming entries left in processing/",
                         {{"queue", q.cfg.name}, {"count", resumed}});
            notify_work(resumed);
        }
    }
    // Read incoming/ only as far as the queue can hold (twice, since names already pending are
    // listed again): a backlog of any size costs bounded memory and a quick start.
    const std::size_t limit = work_.max_pending() * 2;
    const auto op = [sp, limit] { return sp->list("incoming", limit); };
    const auto started = work_.listing_started(q.index);
    auto names = co_await ctx_.files.run(op);
    const auto now = std::chrono::steady_clock::now();
    std::size_t added = 0;
    for (const auto& n : names) added += work_.add_listed(q.index, n, now) ? 1 : 0;
    notify_work(added);
    work_.refilled(q.index, names.size() < limit, started);
}

void intake::recheck_later(spool_queue& q, const std::string& name) {
    ++rechecks_;
    asio::co_spawn(ctx_.ioc, recheck(q, name), asio::detached);
}

asio::awaitable<void> intake::recheck(spool_queue& q, std::string name) {
    co_await ctx_.run.pause(std::chrono::milliseconds(500));
    --rechecks_;
    if (!ctx_.run.stopping()) add_pending(q, name);
    on_change_();
}

// Lists incoming/ again for queues that turned names away and have drained to half.
void intake::maybe_refill() {
    if (ctx_.run.stopping()) return;
    for (auto& qp : queues_) {
        spool_queue& q = *qp;
        if (q.retired || q.refilling || !work_.needs_refill(q.index)) continue;
        q.refilling = true;
        asio::co_spawn(ctx_.ioc, scan(q, false), [this, &q](std::exception_ptr e) {
            q.refilling = false;
            if (e) {
                ctx_.log.error("cannot list incoming/; will try again",
                               {{"queue", q.cfg.name}, {"error", describe(e)}});
            } else {
                maybe_refill();  // what finished during this listing may ask for another
            }
            on_change_();
        });
    }
}

asio::awaitable<void> intake::start_queue(spool_queue& q) {
    const spool* sp = &q.sp;
    const std::string boot = boot_id_;
    run_start run;
    std::optional<file_identity> incoming_id;
    std::vector<std::string> layout_warnings;
    const auto op = [sp, &boot, &run, &incoming_id, &layout_warnings] {
        layout_warnings = sp->ensure_layout(daemon_spool_owner());
        incoming_id = sp->incoming_identity();
        if (boot.empty()) {
            run.doubt_before_ns = unix_now_ns();  // cannot tell boots apart: the safe side
        } else {
            run = inspect_runs(sp->root(), boot, unix_now_ns());
        }
        return sp->remove_stale_temps();
    };
    co_await ctx_.files.run(op);
    for (const auto& w : layout_warnings) ctx_.log.warn(w, {{"queue", q.cfg.name}});
    q.run = std::move(run);
    q.opened = true;
    q.incoming_id = incoming_id;
    if (!q.marking_done) {
        q.marking_done = std::make_unique<asio::steady_timer>(ctx_.ioc);
        q.marking_done->expires_at(std::chrono::steady_clock::time_point::max());
    }
    if (!q.incoming_id) {
        ctx_.log.info(
            "the spool's file system records no birth times; each new externalId is "
            "random and synced before its first request (slower)",
            {{"queue", q.cfg.name}});
    }
    if (boot.empty()) {
        warn_unmarked(q,
                      "no boot id in /proc/sys/kernel/random/boot_id nor in the credential "
                      "boot_id (the shipped unit loads it: LoadCredential=boot_id:...)");
    } else {
        q.marking = true;
        asio::co_spawn(ctx_.ioc, mark_run(q), asio::detached);
    }
    if (q.run.after_lost_boot) {
        ctx_.log.warn(
            "an earlier run ended with its machine; entries from before this start are "
            "looked up in Catalog before they are sent",
            {{"queue", q.cfg.name}});
    }
    // Watch before scanning, so nothing that arrives in between is missed.
    if (watcher_) q.watch = watcher_->add_watch(q.sp.path("incoming", ""));
    co_await scan(q, true);
}

// Writes the queue's run marker (io/run_marker.hpp) on the file threads, then wakes the sends
// waiting for it.
asio::awaitable<void> intake::mark_run(spool_queue& q) {
    const spool* sp = &q.sp;
    const std::string boot = boot_id_;
    run_start marked;
    marked.stale = q.run.stale;
    const auto op = [sp, &boot, &marked] {
        aep::mark_run(sp->root(), marked, boot);
        return true;
    };
    try {
        co_await ctx_.files.run(op);
    } catch (const std::exception& e) {  // not expected: mark_run reports its own failures
        marked.problem = e.what();
    }
    q.run.stale.clear();
    q.run.marked = marked.marked;
    q.run.problem = std::move(marked.problem);
    q.run.marker = std::move(marked.marker);
    q.run.lock = std::move(marked.lock);
    q.marking = false;
    q.marking_done->cancel();
    if (!q.run.marked) warn_unmarked(q, q.run.problem);
}

void intake::warn_unmarked(const spool_queue& q, const std::string& error) {
    ctx_.log.warn(
        "cannot mark this run in the spool; every new externalId is synced before its first "
        "request (slower)",
        {{"queue", q.cfg.name}, {"error", error}});
}

void intake::follow() {
    asio::co_spawn(ctx_.ioc, watch(), asio::detached);
    asio::co_spawn(ctx_.ioc, periodic_rescan(), asio::detached);
}

asio::awaitable<void> intake::watch() {
    while (!ctx_.run.stopping()) {
        decoded_events ev;
        try {
            ev = co_await watcher_->next();
        } catch (const boost::system::system_error& e) {
            if (ctx_.run.stopping()) co_return;
            ctx_.log.error("inotify failed; falling back to periodic scans", {{"error", e.what()}});
            co_return;
        }
        if (ev.overflow) {
            ctx_.log.warn("inotify queue overflowed; rescanning every spool");
            for (auto& q : queues_) {
                if (!q->retired) co_await scan(*q, false);
            }
            continue;
        }
        for (const auto& e : ev.events) {
            for (auto& q : queues_) {
                if (q->watch != e.watch) continue;
                // A regular file created in place is complete only when closed (IN_CLOSE_WRITE
                // follows); a symlink, fifo, device, directory or hard link is complete when
                // created, and is claimed at once to be refused with a reason.
                if ((e.mask & (IN_MOVED_TO | IN_CLOSE_WRITE)) == 0 &&
                    !created_complete(*q, e.name)) {
                    continue;
                }
                add_pending(*q, e.name);
            }
        }
    }
}

// Whether an entry that inotify saw created needs no close to be complete. One lstat of a name
// the kernel just reported: cached metadata, no wait for the disk.
bool intake::created_complete(const spool_queue& q, const std::string& name) const {
    struct stat st {};
    if (::lstat(q.sp.path("incoming", name).c_str(), &st) != 0) return false;
    return !S_ISREG(st.st_mode) || st.st_nlink > 1;
}

asio::awaitable<void> intake::periodic_rescan() {
    while (!ctx_.run.stopping()) {
        rescan_timer_.expires_after(rescan_interval);
        auto [ec] = co_await rescan_timer_.async_wait(nothrow);
        if (ec || ctx_.run.stopping()) co_return;
        for (auto& q : queues_) {
            if (q->retired) continue;
            try {
                // Only when idle: a rescan exists to catch what events missed, not to compete.
                // processing/ too: entries whose owner died (another daemon on this spool, while
                // this one lives) are taken over; those a live owner holds are left to it.
                if (work_.pending(q->index) == 0) co_await scan(*q, true, true);
            } catch (const std::exception& e) {
                ctx_.log.warn("rescan failed", {{"queue", q->cfg.name}, {"error", e.what()}});
            }
        }
    }
}

}  // namespace aep
