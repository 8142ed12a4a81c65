#include "aep/token_schedule.hpp"

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

token_state::action token_state::next(steady_time now) const {
    if (now < retry_at_) return {false, retry_at_};
    if (wanted_ || !token_ || now >= timing_.refresh_at) return {true, now};
    return {false, timing_.refresh_at};
}

const std::string* token_state::usable(steady_time now) const {
    if (token_ && now < timing_.expires_at) return &*token_;
    return nullptr;
}

lifetime_decision token_state::on_success(steady_time sent_at, std::string token,
                                          std::optional<std::int64_t> expires_in) {
    const auto life = decide_lifetime(expires_in);
    timing_ = schedule_token(sent_at, life.lifetime, margin_);
    token_ = std::move(token);
    wanted_ = false;
    failures_ = 0;
    retry_at_ = {};
    return life;
}

std::chrono::milliseconds token_state::on_failure(steady_time now, failure_kind kind,
                                                  double unit_random) {
    using namespace std::chrono_literals;
    auto delay = backoff_delay(failures_++, 500ms, 30s, unit_random);
    delay = std::max(delay, std::chrono::milliseconds(200));
    // A configuration error needs a person, not a retry: ask again rarely.
    if (kind == failure_kind::config) delay = std::max(delay, std::chrono::milliseconds(30s));
    retry_at_ = now + delay;
    return delay;
}

void token_state::forget() {
    token_.reset();
    wanted_ = true;
    retry_at_ = {};
    failures_ = 0;
}

bool token_state::invalidate(const std::string& token) {
    if (!token_ || *token_ != token) return false;
    token_.reset();
    wanted_ = true;
    return true;
}

}  // namespace aep
