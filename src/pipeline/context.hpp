// What the stages of the pipeline share: the loop and its file threads, the running
// configuration, one queue's spool at run time, and one entry's job from claim to outcome.
// An entry's path: intake (names) -> take_stage (claim, read, externalId durable) ->
// create_stage (requests through api_channel) -> recorder (done/ or failed/); the worker loop
// (workers) routes each stage's outcome to the next. Threading: the loop only; the stages hand
// file work to the file pool on captured values.
#pragma once

#include "aep/entry.hpp"
#include "aep/progress.hpp"
#include "config/config.hpp"
#include "io/durable.hpp"
#include "io/file_pool.hpp"
#include "io/log.hpp"
#include "io/metrics.hpp"
#include "io/run_marker.hpp"
#include "io/run_state.hpp"
#include "aep/upload_api.hpp"
#include "io/data_files.hpp"
#include "io/spool.hpp"
#include "policy/create_attempts.hpp"
#include "policy/full_entry.hpp"
#include "policy/work_queue.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace aep {

struct pipeline_context {
    boost::asio::io_context& ioc;
    file_pool& files;
    logger& log;
    const config& cfg;  // the running configuration: a reload assigns it in place
    run_state& run;
    metrics_counters& metrics;
};

// One queue's spool at run time.
struct spool_queue {
    std::size_t index;  // its queue in the work_queue
    queue_config cfg;
    spool sp;
    int watch = -1;
    bool refilling = false;  // a listing of incoming/ is under way
    bool retired = false;    // removed by a reload; kept while its entries in flight finish
    // Set when it starts: incoming/'s identity (externalIds derived from it), and this run's
    // marker and doubt moment (io/run_marker.hpp).
    std::optional<file_identity> incoming_id;
    run_start run;
    bool opened = false;  // its layout was made or found (a stop syncs only such spools)
    // The marker is written while the first entries are taken and connections opened; only a
    // send that relies on it waits (see take_stage).
    bool marking = false;
    std::unique_ptr<boost::asio::steady_timer> marking_done;  // waiters sleep here
    std::string take_key;  // its takes' group (see take_stage), built once

    spool_queue(std::size_t i, queue_config c)
        : index(i), cfg(std::move(c)), sp(cfg.spool), take_key("take:" + sp.root()) {}
};

// Where a created batch's record goes.
enum class record_place {
    in_place,  // the entry carries its stamp: the record replaces its content, then moves
    separate,  // a new file in done/, written and synced before the entry is removed
};

// What a full entry (one with files) carries besides: its files as claimed, how far it got,
// and, once known, where and how it ended.
struct full_job {
    std::vector<data_identity> identities;  // by file, taken at the claim
    full_progress progress;                 // as last written with the entry
    std::vector<std::string> sha256;        // of the bytes sent, by file ("" until sent)
    create_result batch;                    // its batch
    std::optional<batch_status> status;     // the final status (or the one after an abort)
    // A failure's context for its record.
    entry_stage stage = entry_stage::validate;
    std::string file;  // the file at fault
    std::string created_at, completed_at, finished_at;
};

// Everything one entry carries from claim to outcome; lives in its worker's frame.
struct entry_job {
    spool_queue* q = nullptr;
    std::string name;
    bool resumed = false;
    // Its first claim, by this run or an earlier one (retry.max_age runs from here).
    std::chrono::steady_clock::time_point started;
    batch_entry entry;
    int attempts = 0;         // creates sent, by every run
    entry_progress progress;  // as last written with the entry (see create_stage)
    unique_fd hold;  // the entry's file, open under its owner's lock while it is in processing/
    first_request first = first_request::create;
    record_place place = record_place::separate;
    std::string unparsed;  // a suspected torn record: why its content is not an entry
    work_item item;        // as taken from the work queue; finished with the entry
    std::optional<full_job> full;  // entries that name files
};

// The wall clock since the epoch, for what outlives a run: run markers and birth times compare
// in nanoseconds (io/run_marker.hpp), an entry's progress keeps milliseconds (aep/progress.hpp).
inline std::int64_t unix_now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}
inline std::int64_t unix_ms() { return unix_now_ns() / 1000000; }
// A time point as Unix seconds with their fraction (metrics).
inline double unix_seconds(std::chrono::system_clock::time_point t) {
    return std::chrono::duration<double>(t.time_since_epoch()).count();
}

// How long a write that failed (a full disk, an unwritable directory) waits to be tried again.
inline constexpr std::chrono::seconds durable_retry_every{5};

// Runs `attempt` (a callable returning awaitable<void>) until it returns without a
// spool_error; after each one, `complain(what)` logs it and the next try waits
// durable_retry_every. False when the daemon stops first: the entry stays where it is, and the
// next start finds it. Both callables must outlive the call (pass named locals).
template <class Attempt, class Complain>
boost::asio::awaitable<bool> until_durable(run_state& run, Attempt& attempt,
                                           const Complain& complain) {
    while (true) {
        try {
            co_await attempt();
            co_return true;
        } catch (const spool_error& e) {
            complain(e.what());
        }
        if (!co_await run.pause(durable_retry_every)) co_return false;
    }
}

}  // namespace aep
