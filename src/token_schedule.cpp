#include "token_schedule.hpp"

#include <algorithm>
#include <cmath>

namespace aep {

lifetime_decision decide_lifetime(std::optional<std::int64_t> expires_in_seconds) {
    constexpr std::int64_t max_lifetime = 7 * 24 * 3600;
    // Assumed when IMS gives no usable value: short enough to be safe, long enough not to
    // hammer IMS (Adobe throttles integrations that ask for too many tokens).
    constexpr std::chrono::seconds fallback(300);
    if (!expires_in_seconds || *expires_in_seconds <= 0 || *expires_in_seconds > max_lifetime) {
        return {fallback, true};
    }
    return {std::chrono::seconds(*expires_in_seconds), false};
}

token_timing schedule_token(steady_time issued, std::chrono::seconds lifetime,
                            std::chrono::milliseconds margin) {
    using namespace std::chrono;
    const auto life = duration_cast<milliseconds>(lifetime);
    const auto ninety = life * 9 / 10;
    // A margin as long as the lifetime would refresh the moment a token arrives, for ever:
    // never refresh before half the lifetime has passed.
    const auto refresh_after = std::clamp(life - margin, life / 2, ninety);
    // Skew allowance: 2% of the lifetime, at most 30 s, so a token is never sent at the edge.
    const auto skew = std::min<milliseconds>(life / 50, seconds(30));
    auto expire_after = std::max(refresh_after, life - skew);
    return {issued + refresh_after, issued + expire_after};
}

std::chrono::milliseconds backoff_delay(int attempt, std::chrono::milliseconds base,
                                        std::chrono::milliseconds cap, double unit_random) {
    const int shift = std::clamp(attempt, 0, 30);
    const double ceiling = std::min(static_cast<double>(cap.count()),
                                    static_cast<double>(base.count()) * std::ldexp(1.0, shift));
    const double r = std::clamp(unit_random, 0.0, 1.0);
    return std::chrono::milliseconds(static_cast<std::int64_t>(ceiling * r));
}

}  // namespace aep
