#include "policy/full_entry.hpp"

#include "aep/token_schedule.hpp"

#include <algorithm>

namespace aep {

const char* to_string(entry_stage s) {
    switch (s) {
        case entry_stage::validate:
            return "validate";
        case entry_stage::create:
            return "create";
        case entry_stage::upload:
            return "upload";
        case entry_stage::complete:
            return "complete";
        case entry_stage::track:
            return "track";
    }
    return "?";
}

full_entry::full_entry(const retry_config& retry, const track_config& track,
                       std::vector<bool> uploaded, std::optional<std::int64_t> completed_ms)
    : retry_(retry),
      track_(track),
      uploaded_(std::move(uploaded)),
      in_flight_(uploaded_.size(), false),
      completed_ms_(completed_ms) {}

full_entry::step full_entry::next() const {
    step s;
    if (completed_ms_) {
        s.k = step::kind::poll;  // resumed while tracking: ask at once
        return s;
    }
    const bool all = std::all_of(uploaded_.begin(), uploaded_.end(), [](bool b) { return b; });
    s.k = all ? step::kind::complete : step::kind::upload;
    return s;
}

std::vector<std::size_t> full_entry::startable(std::size_t slots) {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < uploaded_.size() && out.size() < slots; ++i) {
        if (uploaded_[i] || in_flight_[i]) continue;
        in_flight_[i] = true;
        out.push_back(i);
    }
    return out;
}

void full_entry::file_done(std::size_t i) {
    uploaded_[i] = true;
    in_flight_[i] = false;
}

void full_entry::file_returned(std::size_t i) { in_flight_[i] = false; }

std::size_t full_entry::files_in_flight() const {
    return static_cast<std::size_t>(std::count(in_flight_.begin(), in_flight_.end(), true));
}

full_entry::step full_entry::retry(const call_answer& a, entry_stage stage, double jitter,
                                   std::int64_t now_ms) {
    step s;
    const std::string what = stage == entry_stage::complete ? "COMPLETE" : "status request";
    const std::string why = a.transport_error ? *a.transport_error : "HTTP " + std::to_string(a.status);
    if (!a.transport_error && a.status == 401 && !refreshed_) {
        refreshed_ = true;
        s = stage == entry_stage::complete ? next() : step{};
        if (stage == entry_stage::track) s.k = step::kind::poll;
        s.drop_token = true;
        return s;
    }
    const bool permanent = !a.transport_error && classify_call(a.status) == call_outcome::permanent;
    if (permanent || (!a.transport_error && a.status == 401) || attempts_ >= retry_.max_attempts) {
        s.k = step::kind::failed;
        s.stage = stage;
        s.reason = what + (permanent || a.status == 401 ? " refused: " : " gave up after " +
                                                           std::to_string(attempts_) + " attempts: ") +
                   why + (a.body_excerpt.empty() ? "" : " " + a.body_excerpt);
        return s;
    }
    s.k = step::kind::wait;
    s.delay = backoff_delay(attempts_ - 1, retry_.initial_backoff, retry_.max_backoff, jitter);
    if (a.retry_after) s.delay = std::max(s.delay, *a.retry_after);
    s.slow_down = !a.transport_error && a.status == 429;
    s.slow_down_hint = a.retry_after;
    if (stage == entry_stage::track && completed_ms_ &&
        now_ms + s.delay.count() > *completed_ms_ + track_.max_wait.count()) {
        s.k = step::kind::failed;
        s.stage = stage;
        s.reason = "not final after track.max_wait (" +
                   std::to_string(track_.max_wait.count() / 1000) + " s); last: " + why;
    }
    return s;
}

full_entry::step full_entry::on_complete(const call_answer& a, std::int64_t now_ms, double jitter) {
    ++attempts_;
    if (a.transport_error || classify_call(a.status) != call_outcome::ok)
        return retry(a, entry_stage::complete, jitter, now_ms);
    completed_ms_ = now_ms;
    attempts_ = 0;
    refreshed_ = false;
    step s;
    s.k = step::kind::poll;
    s.delay = track_.poll_initial;
    return s;
}

// The next poll: from poll_initial, doubling to poll_max, full jitter over its upper half;
// none after max_wait from the COMPLETE.
full_entry::step full_entry::poll_after(std::int64_t now_ms, double jitter) {
    step s;
    auto d = track_.poll_initial;
    for (int i = 0; i < polls_ && d < track_.poll_max; ++i) d *= 2;
    d = std::min(d, track_.poll_max);
    d = std::chrono::milliseconds(static_cast<std::int64_t>(d.count() * (0.5 + jitter / 2)));
    if (completed_ms_ && now_ms + d.count() > *completed_ms_ + track_.max_wait.count()) {
        const auto left = *completed_ms_ + track_.max_wait.count() - now_ms;
        if (left <= 0) {
            s.k = step::kind::failed;
            s.stage = entry_stage::track;
            s.reason = "not final after track.max_wait (" +
                       std::to_string(track_.max_wait.count() / 1000) +
                       " s); the batch is left in AEP";
            return s;
        }
        d = std::chrono::milliseconds(left);  // one last look at the deadline
    }
    s.k = step::kind::poll;
    s.delay = d;
    return s;
}

full_entry::step full_entry::on_status(const call_answer& a, const batch_status& parsed,
                                       std::int64_t now_ms, double jitter) {
    ++attempts_;
    if (a.transport_error || classify_call(a.status) != call_outcome::ok ||
        parsed.k == batch_status::kind::unknown) {
        call_answer why = a;
        if (!a.transport_error && classify_call(a.status) == call_outcome::ok) {
            why.status = 502;  // an answer that is not a status: as a bad gateway, transient
            why.body_excerpt = parsed.reason;
        }
        return retry(why, entry_stage::track, jitter, now_ms);
    }
    attempts_ = 0;
    refreshed_ = false;
    ++polls_;
    using bk = batch_status::kind;
    step s;
    switch (parsed.k) {
        case bk::succeeded:
        case bk::failed:
        case bk::aborted:
        case bk::abandoned:
            s.k = step::kind::finished;
            s.status = parsed;
            return s;
        case bk::stalled:
            s = poll_after(now_ms, jitter);
            s.stalled = !stalled_seen_;
            stalled_seen_ = true;
            return s;
        default:
            return poll_after(now_ms, jitter);
    }
}

}  // namespace aep
