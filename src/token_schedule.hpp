// When an access token must be replaced, and how long to wait after a failed token request.
// Owns: the arithmetic of token lifetimes and IMS back-off. Pure: time is passed in.
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

}  // namespace aep
