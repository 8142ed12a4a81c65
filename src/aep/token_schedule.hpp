// When an access token must be replaced, and how long to wait after a failed token request.
// Owns: the arithmetic of token lifetimes and IMS back-off, and token_state, the fetcher's
// decisions as a pure state machine. Pure: time and randomness are passed in.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace aep {

using steady_time = std::chrono::steady_clock::time_point;

struct token_timing {
    steady_time refresh_at;  // start fetching the next token from here on
    steady_time expires_at;  // never send the token from here on
};

// expires_in as IMS reported it (seconds). Missing, zero, negative or absurd values (more than
// 7 days) are replaced by a conservative assumed lifetime; `sanitized` tells the caller to log.
struct lifetime_decision {
    std::chrono::seconds lifetime;
    bool sanitized = false;
};
lifetime_decision decide_lifetime(std::optional<std::int64_t> expires_in_seconds);

// refresh_at = issued + (lifetime - margin), kept between 50% and 90% of the lifetime (so a
// short-lived token is not refreshed in a loop); expires_at = issued + lifetime
// minus a small skew allowance (clocks and transit), never before refresh_at.
token_timing schedule_token(steady_time issued, std::chrono::seconds lifetime,
                            std::chrono::milliseconds margin);

// Exponential back-off with full jitter: uniform in [0, min(cap, base * 2^attempt)], with
// `unit_random` in [0,1) injected by the caller. attempt counts from 0.
std::chrono::milliseconds backoff_delay(int attempt, std::chrono::milliseconds base,
                                        std::chrono::milliseconds cap, double unit_random);

// The token fetcher's state, stepped with explicit times (a fake clock in tests). The I/O shell
// (token_provider) asks next() what to do, performs it, and reports the result back.
class token_state {
  public:
    enum class failure_kind { transient, config };

    struct action {
        bool fetch = false;      // send one token request now
        steady_time wait_until;  // otherwise: sleep until then (or until woken by demand())
    };

    explicit token_state(std::chrono::milliseconds refresh_margin) : margin_(refresh_margin) {}

    // What the fetcher should do at `now`. Never "fetch" while backing off after a failure,
    // however many requests are waiting: IMS throttles clients that ask too often.
    action next(steady_time now) const;

    // The token to send at `now`, if any.
    const std::string* usable(steady_time now) const;

    // A request needs a token and none is usable: fetch as soon as the back-off allows.
    void demand() { wanted_ = true; }

    // IMS issued `token`; sent_at is when the request left (the lifetime counts from there).
    lifetime_decision on_success(steady_time sent_at, std::string token,
                                 std::optional<std::int64_t> expires_in);

    // A token request failed at `now`; unit_random in [0,1) draws the jitter. Returns the pause.
    std::chrono::milliseconds on_failure(steady_time now, failure_kind kind, double unit_random);

    // The API refused `token` (401): drop it unless a newer one is held already. Returns true
    // when it was dropped.
    bool invalidate(const std::string& token);

    // New credentials (a reload): the token held was issued for the old ones. Drop it and fetch
    // at once, without waiting out a back-off earned by the old credentials.
    void forget();
    void set_margin(std::chrono::milliseconds margin) { margin_ = margin; }

    int consecutive_failures() const { return failures_; }
    const token_timing& timing() const { return timing_; }

  private:
    std::chrono::milliseconds margin_;
    std::optional<std::string> token_;
    token_timing timing_{};
    steady_time retry_at_{};  // no request before this (back-off)
    bool wanted_ = true;      // the first token is wanted at once
    int failures_ = 0;
};

}  // namespace aep
