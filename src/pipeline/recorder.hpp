// The outcome of an entry, made durable: a created batch's done record (in place or separate,
// then filed into done/), or a failure record with the entry moved to failed/. Retries a write
// that fails until it succeeds (a full disk), and counts the outcomes.
// Owns: the records' file work and group syncs, the outcome counters, and the tasks that record
// apart from their workers. Threading: the loop; file work on the pool.
#pragma once

#include "io/group_sync.hpp"
#include "pipeline/context.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace aep {

// What the daemon has achieved so far, for STATUS=, /metrics and /healthz.
struct outcome_stats {
    std::uint64_t done = 0, failed = 0;
    std::string last_batch;
    std::chrono::system_clock::time_point last_success{};  // epoch: none yet
    // The last batch recorded, or the last moment nothing was in flight (metrics.stall_after).
    std::chrono::steady_clock::time_point last_progress = std::chrono::steady_clock::now();
};

class recorder {
  public:
    // `finish(item)` is called when an entry recorded apart from its worker is done with.
    recorder(pipeline_context& ctx, group_sync& syncs, std::function<void(const work_item&)> finish)
        : ctx_(ctx), syncs_(syncs), finish_(std::move(finish)) {}

    enum class handling { here, apart };
    // Records a created (or recovered) batch. Usually in a task of its own (`apart`: job and r
    // are moved from, and finish is called once the record is durable), so that the worker's
    // request slot goes to the next entry at once.
    boost::asio::awaitable<handling> created(entry_job& job, create_result& r, bool recovered);
    boost::asio::awaitable<void> failed(entry_job& job, const failure& why);
    // A full entry's batch reached its final status (job.full->status): done/ for a success,
    // failed/ with Catalog's errors otherwise. The caller finishes the entry's name.
    boost::asio::awaitable<void> finished(entry_job& job);
    // Logs `batch created` for a full entry, whose record comes at its end.
    void created_full(const entry_job& job);
    void finish(const work_item& item) { finish_(item); }

    int recording() const { return recording_; }  // records being written apart
    const outcome_stats& stats() const { return stats_; }
    void note_progress() { stats_.last_progress = std::chrono::steady_clock::now(); }

  private:
    boost::asio::awaitable<void> record_success(entry_job& job, create_result& r, bool recovered);
    boost::asio::awaitable<void> record_apart(entry_job job, create_result r, bool recovered);
    void count_created(const entry_job& job, const create_result& r, bool recovered);
    void log_created(const entry_job& job, const create_result& r, bool recovered);

    pipeline_context& ctx_;
    group_sync& syncs_;
    std::function<void(const work_item&)> finish_;
    int recording_ = 0;
    outcome_stats stats_;
};

}  // namespace aep
