// A full entry after its batch exists, as a machine without I/O: which of its files may start
// uploading, when the batch is completed (once every file is in), and how its status is
// followed in Catalog until final (polls backing off from track.poll_initial to poll_max with
// jitter, for at most track.max_wait from the COMPLETE). Each COMPLETE and status request has
// its own attempts under retry.max_attempts. Resumable from its progress after any crash.
// Owns: the order of the steps and the verdicts. Does not own: a file's own requests
// (policy/file_upload), sending, recording. Pure: clocks and jitter come in as values.
#pragma once

#include "aep/upload_api.hpp"
#include "config/config.hpp"
#include "policy/file_upload.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace aep {

// Where a failed entry failed (the error record's `stage`).
enum class entry_stage { validate, create, upload, complete, track };
const char* to_string(entry_stage s);

class full_entry {
  public:
    struct step {
        enum class kind {
            upload,    // files may start: startable() says which
            complete,  // send the batch's COMPLETE now
            wait,      // send the same request (COMPLETE or a poll) after `delay`
            poll,      // ask Catalog for the status after `delay`
            finished,  // a final status: `status` (succeeded, or failed/aborted/abandoned)
            failed,    // give up at `stage` with `reason` (the batch is left in AEP)
        } k = kind::upload;
        std::chrono::milliseconds delay{0};
        batch_status status;
        entry_stage stage = entry_stage::upload;
        std::string reason;
        bool drop_token = false, slow_down = false;
        std::optional<std::chrono::milliseconds> slow_down_hint;
        bool stalled = false;  // first seen stalled: worth one warning
    };

    // `uploaded[i]`: file i is known to be in the batch. `completed_ms`: when an earlier run's
    // COMPLETE was accepted (Unix ms): the entry is tracking.
    full_entry(const retry_config& retry, const track_config& track, std::vector<bool> uploaded,
               std::optional<std::int64_t> completed_ms = std::nullopt);

    step next() const;
    // Up to `slots` files not in the batch and not in flight, marked in flight.
    std::vector<std::size_t> startable(std::size_t slots);
    void file_done(std::size_t i);
    void file_returned(std::size_t i);  // not finished (a stop): may start again later
    bool file_in_batch(std::size_t i) const { return uploaded_[i]; }
    std::size_t files_in_flight() const;

    // The answer to the COMPLETE; `now_ms` is the wall clock (completedAt, max_wait).
    step on_complete(const call_answer& a, std::int64_t now_ms, double jitter);
    // The answer to a status poll (`parsed` when an answer came).
    step on_status(const call_answer& a, const batch_status& parsed, std::int64_t now_ms,
                   double jitter);
    std::optional<std::int64_t> completed_ms() const { return completed_ms_; }
    int polls() const { return polls_; }

  private:
    step poll_after(std::int64_t now_ms, double jitter);
    step retry(const call_answer& a, entry_stage stage, double jitter, std::int64_t now_ms);

    retry_config retry_;
    track_config track_;
    std::vector<bool> uploaded_, in_flight_;
    std::optional<std::int64_t> completed_ms_;
    int attempts_ = 0;  // of the current COMPLETE or poll
    bool refreshed_ = false;
    int polls_ = 0;
    bool stalled_seen_ = false;
};

}  // namespace aep
