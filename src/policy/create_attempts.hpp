// One entry's attempts at getting its batch created, as a machine without I/O: which request to
// make next (a Catalog look-up or a create), and what each answer means (done, recovered, give
// up, try again now, or wait). The README's *Delivery* section, row by row.
// Owns: the retry, look-up and give-up rules; the reason a failure gives.
// Does not own: sending (pipeline/create_stage), tokens, the shared request gate, logging.
// Pure: the clock and the jitter come in with each answer; tests step it by hand.
#pragma once

#include "aep/batch_api.hpp"
#include "config/config.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace aep {

// What an entry brings to its first request (see policy/take_decision.hpp).
enum class first_request {
    create,         // sent by no earlier run: create its batch
    look_up_first,  // an earlier run may have sent it: Catalog first, create if it lists none
    look_up_only,   // torn after its batch was created: Catalog only, never created again
};

// Why an entry failed, for its failed/ record and log line.
struct failure {
    std::string reason;
    std::optional<unsigned> http_status;
    std::string response_body;  // an excerpt
    std::string request_id;
};

// The answer to a create, as the machine needs it: a transport failure, or a classified reply.
struct create_reply {
    std::optional<std::string> transport_error;  // "<kind> error: <message>" when no reply came
    bool request_sent = false;                   // with transport_error: the request was written
    unsigned status = 0;                         // otherwise: the reply's
    create_result result;                        // classify_create_response of it
    std::string body_excerpt;
    std::string request_id;
};

// What earlier runs did with the entry (aep/progress.hpp).
struct earlier_runs {
    int attempts = 0;        // creates they sent
    std::string last_error;  // why the one before their last failed
    // When their last create was sent: its outcome is unknown, so a resend waits for
    // Catalog over retry.catalog_lag from then.
    std::optional<std::chrono::steady_clock::time_point> last_sent;
};

class create_attempts {
  public:
    enum class request { look_up, create };

    struct step {
        enum class kind {
            again,      // make the next request at once
            wait,       // make it after `delay`
            created,    // `batch` was created by this entry's request
            recovered,  // `batch` was found in Catalog: created by an earlier request
            failed,     // give up: `why`
        } k = kind::again;
        std::chrono::milliseconds delay{0};
        create_result batch;
        // With created or recovered: twins under the same externalId (a resend after all), still
        // loading, to abort; `batch` is the one kept (the first created).
        std::vector<std::string> abort;
        failure why;
        bool drop_token = false;  // the API refused the token this request carried
        // The API asked everyone to slow down (a 429, or a 503 with Retry-After): pause every
        // request, for `slow_down_hint` when the server said how long.
        bool slow_down = false;
        std::optional<std::chrono::milliseconds> slow_down_hint;
        // What is worth a warning on the way (shown before the step is acted on).
        enum class note {
            none,
            look_up_failed,   // note_reason: why
            torn_not_listed,  // a torn entry's batch is not in Catalog yet
            create_failed,    // note_reason: why; a create will be retried (or looked up)
            watching,         // a resend created a batch: Catalog is asked once more, later
        } noted = note::none;
        std::string note_reason;
    };

    // `claimed` is the entry's first claim (retry.max_age runs from it).
    create_attempts(const retry_config& retry, first_request first, std::string external_id,
                    std::chrono::steady_clock::time_point claimed, std::string unparsed = {},
                    earlier_runs before = {});

    request next() const { return must_look_up_ ? request::look_up : request::create; }
    // `jitter` is uniform in [0, 1) (full-jitter back-off); `now` is the steady clock's.
    step on_look_up(const lookup_result& r, std::chrono::steady_clock::time_point now,
                    double jitter);
    step on_create(const create_reply& r, std::chrono::steady_clock::time_point now, double jitter);

    int attempts() const { return attempts_; }  // creates sent, earlier runs' included
    const failure& last_failure() const { return last_; }  // of the last create
    int look_ups() const { return look_ups_; }

  private:
    std::chrono::milliseconds delay(int attempt, std::optional<std::chrono::milliseconds> hint,
                                    double jitter) const;
    step fail(std::string reason) const;
    step found(const lookup_result& r);
    step not_found(std::chrono::steady_clock::time_point now, double jitter);
    step after_failed_create(step s, std::optional<std::chrono::milliseconds> hint,
                             std::chrono::steady_clock::time_point now, double jitter);

    retry_config retry_;
    std::string xid_;
    std::chrono::steady_clock::time_point claimed_;
    std::string unparsed_;  // a torn entry only suspected: why its content is not an entry
    bool torn_;
    bool must_look_up_;
    bool refused_once_ = false;  // a 401 was answered with a fresh token already
    int attempts_ = 0;
    int look_ups_ = 0;
    int failed_look_ups_ = 0;
    // The last create whose outcome is unknown (an earlier run's, or a reset after writing, or
    // an unreadable 201): no resend before Catalog has had retry.catalog_lag to list it.
    std::optional<std::chrono::steady_clock::time_point> unknown_since_;
    bool confirm_next_ = false;  // the next create is a resend after a window: confirm its 201
    std::optional<create_result> resent_;  // a resend's batch, waiting for that confirmation
    failure last_{"no attempt made", std::nullopt, {}, {}};
};

// The longest any server-given pause is honoured: a Retry-After beyond it is cut to it.
inline constexpr std::chrono::milliseconds max_server_pause = std::chrono::minutes(10);

}  // namespace aep
