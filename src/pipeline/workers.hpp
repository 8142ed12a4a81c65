// The worker loop: each worker takes a name from the intake and routes its entry through the
// stages by their outcomes (take -> create -> record), until the daemon stops. Four workers per
// request slot: while some requests are on the wire, the others' entries are being taken and
// synced in groups, so a freed slot finds an entry ready.
// Owns: the workers and their number, the stages' wiring. Threading: the loop.
#pragma once

#include "pipeline/context.hpp"
#include "pipeline/create_stage.hpp"
#include "pipeline/full_stage.hpp"
#include "pipeline/intake.hpp"
#include "pipeline/recorder.hpp"
#include "pipeline/take_stage.hpp"
#include "pipeline/tracker.hpp"

#include <boost/asio/awaitable.hpp>

#include <functional>

namespace aep {

class workers {
  public:
    // `on_finish()` is called whenever an entry is done with (the daemon's stop and --once).
    workers(pipeline_context& ctx, intake& in, group_sync& syncs, api_channel& api,
            token_provider& tokens, std::function<void()> on_finish);

    int target() const { return 4 * ctx_.cfg.http.concurrency; }
    // Starts workers up to target() (at start, and after a reload raised the concurrency); a
    // reload that lowered it lets the extra ones end when idle (intake::wake_all).
    void spawn_to_target();

    const recorder& records() const { return recorder_; }
    recorder& records() { return recorder_; }
    const tracker& tracked() const { return tracker_; }

  private:
    void spawn();
    boost::asio::awaitable<void> work();
    boost::asio::awaitable<void> run_entry(const work_item& item);
    // A full entry from its batch to the tracker (or failed/); true when the tracker took it.
    boost::asio::awaitable<bool> run_full(entry_job& job, const create_result& batch,
                                          bool recovered);
    void finish(const work_item& item);

    pipeline_context& ctx_;
    intake& intake_;
    std::function<void()> on_finish_;
    recorder recorder_;
    take_stage take_;
    create_stage create_;
    full_stage full_;
    tracker tracker_;
    int running_ = 0;  // more than target() after a reload lowered the concurrency
};

}  // namespace aep
