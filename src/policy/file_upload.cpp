#include "policy/file_upload.hpp"

#include "aep/token_schedule.hpp"

#include <algorithm>

namespace aep {

namespace {
const char* name_of(file_upload::request r) {
    switch (r) {
        case file_upload::request::put:
            return "PUT";
        case file_upload::request::initialize:
            return "INITIALIZE";
        case file_upload::request::head:
            return "HEAD";
        case file_upload::request::part:
            return "PATCH";
        case file_upload::request::complete:
            return "COMPLETE";
    }
    return "?";
}

void add_range(byte_ranges& r, std::uint64_t a, std::uint64_t b) {
    r.emplace_back(a, b);
    std::sort(r.begin(), r.end());
    byte_ranges merged;
    for (const auto& x : r) {
        if (!merged.empty() && x.first <= merged.back().second + 1) {
            merged.back().second = std::max(merged.back().second, x.second);
        } else {
            merged.push_back(x);
        }
    }
    r = std::move(merged);
}
}  // namespace

file_upload::file_upload(const upload_config& upload, const retry_config& retry,
                         std::uint64_t size, bool resumed)
    : upload_(upload),
      retry_(retry),
      size_(size),
      large_(size > upload.large_file_threshold),
      current_(!large_ ? request::put : resumed ? request::head : request::initialize) {}

std::uint64_t file_upload::bytes_confirmed() const {
    if (!large_) return complete_ ? size_ : 0;
    std::uint64_t n = 0;
    for (const auto& [a, b] : received_) n += b - a + 1;
    return n;
}

file_upload::step file_upload::send(request r) const {
    step s;
    s.k = step::kind::send;
    s.what = r;
    if (r == request::part) {
        s.first = first_;
        s.last = last_;
    }
    return s;
}

file_upload::step file_upload::next() const {
    if (complete_) {
        step s;
        s.k = step::kind::done;
        return s;
    }
    return send(current_);
}

file_upload::step file_upload::failed(const std::string& reason,
                                      std::optional<unsigned> status) const {
    step s;
    s.k = step::kind::failed;
    s.reason = reason;
    s.http_status = status;
    return s;
}

// A request that failed transiently: the same one (or, for a part whose fate is unknown, a
// HEAD) after a back-off, unless its attempts are spent.
file_upload::step file_upload::retry_later(step s, const call_answer& a, double jitter) {
    const std::string why = a.transport_error ? *a.transport_error : "HTTP " + std::to_string(a.status);
    if (attempts_ >= retry_.max_attempts) {
        return failed(std::string(name_of(current_)) + " gave up after " +
                          std::to_string(attempts_) + " attempts: " + why,
                      a.transport_error ? std::nullopt : std::optional<unsigned>(a.status));
    }
    s.k = step::kind::wait;
    s.what = current_;
    s.first = first_;
    s.last = last_;
    s.delay = backoff_delay(attempts_ - 1, retry_.initial_backoff, retry_.max_backoff, jitter);
    if (a.retry_after) s.delay = std::max(s.delay, *a.retry_after);
    s.note = std::string(name_of(current_)) + ": " + why;
    return s;
}

file_upload::step file_upload::on_answer(const call_answer& a, double jitter) {
    ++attempts_;
    step s;
    const request was = current_;
    if (a.transport_error) {
        if (was == request::part) {
            // The part may have reached the server in whole or in part: HEAD tells before
            // anything is sent again. The parts' failures in a row bound the way round.
            attempts_ = ++part_failures_;
            current_ = request::head;
        }
        return retry_later(std::move(s), a, jitter);
    }
    switch (classify_call(a.status)) {
        case call_outcome::refresh:
            if (!refreshed_) {
                refreshed_ = true;
                --attempts_;  // the same request again at once, with a fresh token
                s = next();
                s.drop_token = true;
                return s;
            }
            return failed(std::string(name_of(was)) + ": HTTP 401 twice in a row (the API refuses "
                          "the credentials' tokens)", 401);
        case call_outcome::permanent:
            if (was == request::head && a.status == 404) {
                // The server holds no such file: begin it again.
                received_.clear();
                current_ = request::initialize;
                attempts_ = 0;
                refreshed_ = false;
                return next();
            }
            return failed(std::string(name_of(was)) + ": HTTP " + std::to_string(a.status) +
                              (a.body_excerpt.empty() ? "" : " " + a.body_excerpt),
                          a.status);
        case call_outcome::transient:
            // Refused whole (a part too: nothing of it was kept): the same request again.
            s.slow_down = a.status == 429;
            s.slow_down_hint = a.retry_after;
            return retry_later(std::move(s), a, jitter);
        case call_outcome::ok:
            break;
    }
    attempts_ = 0;
    refreshed_ = false;
    switch (was) {
        case request::put:
        case request::complete:
            complete_ = true;
            return next();
        case request::initialize:
            received_.clear();
            break;
        case request::head:
            if (auto r = parse_received_ranges(a.range)) {
                received_.clear();
                for (const auto& [x, y] : *r) {
                    if (x < size_) add_range(received_, x, std::min(y, size_ - 1));
                }
            } else {
                // Unreadable: nothing is assumed received; begin the file again.
                received_.clear();
                current_ = request::initialize;
                return next();
            }
            break;
        case request::part:
            add_range(received_, first_, last_);
            part_failures_ = 0;
            break;
    }
    if (const auto p = next_part(received_, size_, upload_.part_size)) {
        current_ = request::part;
        first_ = p->first;
        last_ = p->second;
    } else {
        current_ = request::complete;
    }
    return next();
}

}  // namespace aep
