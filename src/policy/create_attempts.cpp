#include "policy/create_attempts.hpp"

#include "aep/token_schedule.hpp"

#include <algorithm>

namespace aep {

create_attempts::create_attempts(const retry_config& retry, first_request first,
                                 std::string external_id,
                                 std::chrono::steady_clock::time_point claimed,
                                 std::string unparsed, earlier_runs before)
    : retry_(retry),
      xid_(std::move(external_id)),
      claimed_(claimed),
      unparsed_(std::move(unparsed)),
      torn_(first == first_request::look_up_only),
      // When the outcome of an earlier send is unknown (crash, reset after writing, unreadable
      // 201), Catalog is asked for a batch with our externalId before anything is resent.
      must_look_up_(first != first_request::create),
      attempts_(before.attempts) {
    if (!before.last_error.empty()) {
        last_.reason = std::move(before.last_error);
    } else if (attempts_ > 0) {
        last_.reason = "the outcome of a create sent before a restart is unknown";
    }
    if (attempts_ >= retry_.max_attempts) {
        last_.reason = "gave up after " + std::to_string(attempts_) + " attempts: " + last_.reason;
    }
    if (must_look_up_ && !torn_) unknown_since_ = before.last_sent;
}

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

// Catalog lists the entry's batch (or batches: a resend after all). The first created is kept;
// every other that is still loading is aborted, this run's resend included.
create_attempts::step create_attempts::found(const lookup_result& r) {
    step s;
    const create_result& kept = r.batches.empty() ? r.batch : r.batches.front();
    const bool ours = resent_ && resent_->batch_id == kept.batch_id;
    s.k = ours ? step::kind::created : step::kind::recovered;
    s.batch = ours ? *resent_ : kept;
    for (const auto& b : r.batches) {
        if (b.batch_id != kept.batch_id && b.status == "loading") s.abort.push_back(b.batch_id);
    }
    const bool listed =
        resent_ && std::any_of(r.batches.begin(), r.batches.end(),
                               [this](const auto& b) { return b.batch_id == resent_->batch_id; });
    if (resent_ && !ours && !listed) s.abort.push_back(resent_->batch_id);
    return s;
}

create_attempts::step create_attempts::not_found(std::chrono::steady_clock::time_point now,
                                                 double jitter) {
    step s;
    if (resent_) {
        // The resend's own batch is not listed yet either: Catalog lags more than the window.
        // Kept as it is; there is nothing else to compare it with.
        s.k = step::kind::created;
        s.batch = *resent_;
        return s;
    }
    if (torn_) {
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
    const auto lag = retry_.catalog_lag;
    if (unknown_since_ && lag.count() > 0 && now < *unknown_since_ + lag) {
        // Catalog may not list a batch created a moment ago: asked again, a few times, until
        // the window since the create whose outcome is unknown has passed.
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(*unknown_since_ + lag - now);
        const auto spacing = std::max(retry_.initial_backoff, lag / 4);
        s.k = step::kind::wait;
        s.delay = std::min(spacing, left) + std::chrono::milliseconds(1);
        return s;
    }
    // None, after the window: sent again, and that batch is confirmed once more later.
    confirm_next_ = unknown_since_.has_value() && lag.count() > 0;
    unknown_since_.reset();
    must_look_up_ = false;
    if (attempts_ >= retry_.max_attempts) return fail(last_.reason);
    return s;  // again: create it
}

create_attempts::step create_attempts::on_look_up(const lookup_result& r,
                                                  std::chrono::steady_clock::time_point now,
                                                  double jitter) {
    ++look_ups_;
    using lk = lookup_result::kind;
    if (r.outcome == lk::found) return found(r);
    if (r.outcome == lk::not_found) return not_found(now, jitter);
    ++failed_look_ups_;
    step s;
    s.drop_token = r.outcome == lk::unauthorized;
    s.noted = step::note::look_up_failed;
    s.note_reason = r.reason;
    if (resent_ && failed_look_ups_ >= retry_.max_attempts) {
        s.k = step::kind::created;  // the confirmation could not be had: the resend's batch
        s.batch = *resent_;
        return s;
    }
    if (failed_look_ups_ >= retry_.max_attempts) {
        step f = fail("outcome unknown after " + last_.reason + "; " + r.reason +
                      " (a batch with externalId " + xid_ + " may exist)");
        f.drop_token = s.drop_token;
        f.noted = s.noted;
        f.note_reason = s.note_reason;
        return f;
    }
    s.k = step::kind::wait;
    s.delay = delay(failed_look_ups_, std::nullopt, jitter);
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
        if (r.request_sent) {
            must_look_up_ = true;
            unknown_since_ = now;
        }
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
                if (confirm_next_) {
                    // A resend after a window: a twin Catalog was slow to list may still show.
                    // Asked once more when the window has passed again, then recorded.
                    confirm_next_ = false;
                    resent_ = r.result;
                    must_look_up_ = true;
                    s.k = step::kind::wait;
                    s.noted = step::note::watching;
                    s.delay = retry_.catalog_lag;
                    return s;
                }
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
                unknown_since_ = now;
                break;
            case ck::transient:
                break;
        }
    }
    return after_failed_create(s, hint, now, jitter);
}

// A create that did not make a batch (as far as is known): wait and try again, or give up.
create_attempts::step create_attempts::after_failed_create(
    step s, std::optional<std::chrono::milliseconds> hint,
    std::chrono::steady_clock::time_point now, double jitter) {
    refused_once_ = false;
    s.noted = step::note::create_failed;
    s.note_reason = last_.reason;
    const auto age = now - claimed_;
    const auto give_up = [&s](step f) {
        f.noted = s.noted;
        f.note_reason = s.note_reason;
        f.slow_down = s.slow_down;
        f.slow_down_hint = s.slow_down_hint;
        return f;
    };
    if (retry_.max_age.count() > 0 && age >= retry_.max_age && !must_look_up_) {
        return give_up(fail(
            "gave up after " +
            std::to_string(std::chrono::duration_cast<std::chrono::seconds>(age).count()) +
            " s (retry.max_age): " + last_.reason));
    }
    if (attempts_ >= retry_.max_attempts) {
        last_.reason =
            "gave up after " + std::to_string(attempts_) + " attempts: " + last_.reason;
        if (!must_look_up_) return give_up(fail(last_.reason));
    }
    s.k = step::kind::wait;
    s.delay = delay(attempts_ - 1, hint, jitter);
    // Catalog may lag behind a batch created an instant ago: give it at least one initial
    // back-off before asking, rather than a full-jitter pause that may be zero.
    if (must_look_up_) s.delay = std::max(s.delay, retry_.initial_backoff);
    return s;
}

}  // namespace aep
