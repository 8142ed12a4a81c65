// One data file's way into its batch, as a machine without I/O: one PUT for a file at or
// below upload.large_file_threshold; INITIALIZE, PATCH parts, COMPLETE for a larger one, with
// HEAD to learn what the server holds whenever that is in doubt (a part whose answer was lost,
// a run that ended half-way), so that no range is ever sent twice and none is missed.
// Owns: which request comes next, each request's attempts and back-off (retry.*), what an
// answer means. Does not own: the bytes (pipeline/ streams them), tokens, the shared pause.
// Pure: the jitter comes in with each answer; tests step it by hand.
#pragma once

#include "aep/upload_api.hpp"
#include "config/config.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace aep {

// An answer to one request of the machine's.
struct call_answer {
    std::optional<std::string> transport_error;  // "<kind> error: <message>" when none came
    unsigned status = 0;
    std::optional<std::chrono::milliseconds> retry_after;
    std::string range;  // the Range header (PATCH, HEAD)
    std::string body_excerpt, request_id;
};

class file_upload {
  public:
    enum class request { put, initialize, head, part, complete };
    struct step {
        enum class kind {
            send,    // send `what` now (`first`..`last` for a part)
            wait,    // send it after `delay`
            done,    // the file is in the batch
            failed,  // give up: `reason` (permanent: the batch must be aborted)
        } k = kind::send;
        request what = request::put;
        std::uint64_t first = 0, last = 0;
        std::chrono::milliseconds delay{0};
        std::string reason;
        std::optional<unsigned> http_status;
        bool drop_token = false;  // the API refused the token this request carried
        bool slow_down = false;   // a 429: every request pauses (api_channel)
        std::optional<std::chrono::milliseconds> slow_down_hint;
        std::string note;  // a retry worth a warning: why
    };

    // `size` is the file's at its claim. `resumed`: an earlier run may have begun it (a large
    // file is then asked about with HEAD first; a small one is simply put again).
    file_upload(const upload_config& upload, const retry_config& retry, std::uint64_t size,
                bool resumed = false);

    bool large() const { return large_; }
    step next() const;  // what to send now (kind send, or done)
    step on_answer(const call_answer& a, double jitter);
    const byte_ranges& received() const { return received_; }  // of a large file, as known
    std::uint64_t bytes_confirmed() const;

  private:
    step send(request r) const;
    step retry_later(step s, const call_answer& a, double jitter);
    step failed(const std::string& reason, std::optional<unsigned> status) const;

    upload_config upload_;
    retry_config retry_;
    std::uint64_t size_;
    bool large_;
    request current_;
    std::uint64_t first_ = 0, last_ = 0;  // the part in flight
    byte_ranges received_;
    bool complete_ = false;
    int attempts_ = 0;           // of the current request
    int part_failures_ = 0;      // parts whose answer was lost, in a row
    bool refreshed_ = false;     // a 401 of the current request was answered with a new token
};

}  // namespace aep
