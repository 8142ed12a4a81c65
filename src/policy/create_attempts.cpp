#include "policy/create_attempts.hpp"

#include "aep/token_schedule.hpp"

#include <algorithm>

namespace aep {

create_attempts::create_attempts(const retry_config& retry, first_request first,
                                 std::string external_id,
                                 std::chrono::steady_clock::time_point claimed,
                                 std::string unparsed)
    : retry_(retry),
      xid_(std::move(external_id)),
      claimed_(claimed),
      unparsed_(std::move(unparsed)),
      torn_(first == first_request::look_up_only),
      // When the outcome of an earlier send is unknown (crash, reset after writing, unreadable
      // 201), Catalog is asked for a batch with our externalId before anything is resent.
      must_look_up_(first != first_request::create) {}

std::chrono::milliseconds create_attempts::delay(int attempt,
                                                 std::optional<std::chrono::milliseconds> hint,
                                                 double jitter) const {
    auto d = backoff_delay(attempt, retry_.initial_backoff, retry_.max_backoff, jitter);
    if (hint) d = std::max(d, std::min(*hint, max_server_pause));
    return d;
}

create_attempts::step create_attempts::fail(std::string reason) const {
    step s;
    s.k = step::kind::failed;
    s.why = last_;
    s.why.reason = std::move(reason);
    return s;
}

create_attempts::step create_attempts::on_look_up(const lookup_result& r, double jitter) {
    ++look_ups_;
    using lk = lookup_result::kind;
    step s;
    if (r.outcome == lk::found) {
        s.k = step::kind::recovered;
        s.batch = r.batch;
        return s;
    }
    if (r.outcome == lk::not_found && torn_) {
        // Its batch was created (only then is the content replaced), but what to send again is
        // gone: Catalog is asked again until it lists the batch.
        if (look_ups_ >= retry_.max_attempts) {
            const std::string n = std::to_string(look_ups_);
            step f = fail(unparsed_.empty()
                              ? "a crash tore this entry while its record was written, after its "
                                "batch was created, and Catalog lists no batch with externalId " +
                                    xid_ + " after " + n + " look-ups"
                              : unparsed_ +
                                    " (it was in the spool when the machine went down, and "
                                    "Catalog lists no batch with the externalId a record torn "
                                    "then would carry, " +
                                    xid_ + ", after " + n + " look-ups)");
            f.why.http_status.reset();
            f.why.response_body.clear();
            f.why.request_id.clear();
            return f;
        }
        s.k = step::kind::wait;
        s.noted = step::note::torn_not_listed;
        s.delay = delay(look_ups_, std::nullopt, jitter);
        return s;
    }
    if (r.outcome == lk::not_found) {
        must_look_up_ = false;
        if (attempts_ >= retry_.max_attempts) return fail(last_.reason);
        return s;  // again: create it
    }
    s.drop_token = r.outcome == lk::unauthorized;
    s.noted = step::note::look_up_failed;
    s.note_reason = r.reason;
    if (look_ups_ >= retry_.max_attempts) {
        step f = fail("outcome unknown after " + last_.reason + "; " + r.reason +
                      " (a batch with externalId " + xid_ + " may exist)");
        f.drop_token = s.drop_token;
        f.noted = s.noted;
        f.note_reason = s.note_reason;
        return f;
    }
    s.k = step::kind::wait;
    s.delay = delay(look_ups_, std::nullopt, jitter);
    return s;
}

create_attempts::step create_attempts::on_create(const create_reply& r,
                                                 std::chrono::steady_clock::time_point now,
                                                 double jitter) {
    ++attempts_;
    step s;
    std::optional<std::chrono::milliseconds> hint;
    if (r.transport_error) {
        last_ = {*r.transport_error, std::nullopt, {}, {}};
        if (r.request_sent) must_look_up_ = true;
    } else {
        last_ = {r.result.reason, r.status, r.body_excerpt, r.request_id};
        hint = r.result.retry_after;
        if (r.status == 429 || (r.status == 503 && hint)) {
            s.slow_down = true;
            s.slow_down_hint = hint;
        }
        using ck = create_result::kind;
        switch (r.result.outcome) {
            case ck::created:
                s.k = step::kind::created;
                s.batch = r.result;
                return s;
            case ck::permanent:
                return fail(r.result.reason);
            case ck::unauthorized:
                if (refused_once_) {
                    return fail(
                        "HTTP 401 twice in a row: the API refuses fresh tokens (check "
                        "platform.api_key, platform.org_id and the product profile)");
                }
                refused_once_ = true;
                s.drop_token = true;
                return s;  // again at once, with a fresh token
            case ck::ambiguous:
                must_look_up_ = true;
                break;
            case ck::transient:
                break;
        }
    }
    refused_once_ = false;
    s.noted = step::note::create_failed;
    s.note_reason = last_.reason;
    const auto age = now - claimed_;
    if (retry_.max_age.count() > 0 && age >= retry_.max_age && !must_look_up_) {
        step f =
            fail("gave up after " +
                 std::to_string(std::chrono::duration_cast<std::chrono::seconds>(age).count()) +
                 " s (retry.max_age): " + last_.reason);
        f.noted = s.noted;
        f.note_reason = s.note_reason;
        f.slow_down = s.slow_down;
        f.slow_down_hint = s.slow_down_hint;
        return f;
    }
    if (attempts_ >= retry_.max_attempts) {
        last_.reason = "gave up after " + std::to_string(attempts_) + " attempts: " + last_.reason;
        if (!must_look_up_) {
            step f = fail(last_.reason);
            f.noted = s.noted;
            f.note_reason = s.note_reason;
            f.slow_down = s.slow_down;
            f.slow_down_hint = s.slow_down_hint;
            return f;
        }
    }
    s.k = step::kind::wait;
    s.delay = delay(attempts_ - 1, hint, jitter);
    // Catalog may lag behind a batch created an instant ago: give it at least one initial
    // back-off before asking, rather than a full-jitter pause that may be zero.
    if (must_look_up_) s.delay = std::max(s.delay, retry_.initial_backoff);
    return s;
}

}  // namespace aep
