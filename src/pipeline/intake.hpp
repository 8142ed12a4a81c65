// Intake: the names of entries waiting in the queues' spools, ready for the workers. Starts a
// queue's spool (layout, run marker, watch, first scan), follows inotify, lists incoming/ again
// when the work queue turned names away and has drained to half, rescans when idle, and looks
// again at entries still being written in place.
// Owns: the queues (retired ones too: indices are stable), the work queue, the watcher, the
// rescan timer, the workers' wake-ups. Does not own: what happens to a name once taken.
// Threading: the loop; listings on the file pool.
#pragma once

#include "io/inotify_watcher.hpp"
#include "pipeline/context.hpp"
#include "policy/work_queue.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace aep {

class intake {
  public:
    // `boot_id` tells run markers of this boot from earlier ones (empty: unknown).
    // `on_change()` is called when the intake may have drained (--once looks).
    intake(pipeline_context& ctx, std::string boot_id, std::function<void()> on_change);
    ~intake();

    // A queue, not started yet (start_queue).
    spool_queue& add_queue(const queue_config& cfg);
    std::vector<std::unique_ptr<spool_queue>>& queues() { return queues_; }
    const std::vector<std::unique_ptr<spool_queue>>& queues() const { return queues_; }
    spool_queue& queue(std::size_t index) { return *queues_[index]; }

    // inotify on (the daemon; --once reads the spools without it). Before the queues start.
    void open_watcher();
    // Prepares a queue's spool, watches it and reads what waits in it: at start, and for a
    // queue a reload added. Throws when the spool cannot be used.
    boost::asio::awaitable<void> start_queue(spool_queue& q);
    // Follows inotify and rescans every minute when idle (not with --once).
    void follow();

    // The next name to take (and a new listing of incoming/ where one is due); nullopt: none.
    std::optional<work_item> take();
    // Waits until a name may be pending, or wake_all().
    boost::asio::awaitable<void> wait_for_work();
    void wake_all();
    // The entry's outcome is recorded (or left for later): its name may be taken again.
    void finish(const work_item& item);
    // Written in place and still open: looked at again in 500 ms.
    void recheck_later(spool_queue& q, const std::string& name);

    // A reload removed (retire) or brought back (revive) a queue.
    void retire(spool_queue& q);
    void revive(spool_queue& q);

    // Nothing pending, in flight or waiting to be looked at again.
    bool drained() const { return work_.idle() && rechecks_ == 0; }
    const work_queue& work() const { return work_; }

    void stop();  // ends the waits, the watch and the rescans

  private:
    // Lists incoming/ (and processing/: names left by a run whose owner is gone, or held by a
    // live one, which the take tells apart). `quiet`: the periodic rescan logs at debug.
    boost::asio::awaitable<void> scan(spool_queue& q, bool include_processing,
                                      bool quiet = false);
    boost::asio::awaitable<void> watch();
    boost::asio::awaitable<void> periodic_rescan();
    boost::asio::awaitable<void> recheck(spool_queue& q, std::string name);
    boost::asio::awaitable<void> mark_run(spool_queue& q);
    void warn_unmarked(const spool_queue& q, const std::string& error);
    bool created_complete(const spool_queue& q, const std::string& name) const;
    void add_pending(spool_queue& q, const std::string& name);
    void notify_work(std::size_t n);
    void maybe_refill();

    pipeline_context& ctx_;
    const std::string boot_id_;
    std::function<void()> on_change_;
    std::vector<std::unique_ptr<spool_queue>> queues_;
    // 1024 names per queue: memory does not grow with the backlog (the rest waits on disk and
    // is listed again when the queue has drained to half, long before it runs dry).
    work_queue work_{0, 1024};
    boost::asio::steady_timer work_ready_;  // idle workers wait here; cancel_one() wakes one
    boost::asio::steady_timer rescan_timer_;
    std::unique_ptr<inotify_watcher> watcher_;
    int rechecks_ = 0;  // entries being written in place, waiting to be looked at again
};

}  // namespace aep
