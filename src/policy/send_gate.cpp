#include "policy/send_gate.hpp"

#include <algorithm>
#include <cmath>

namespace aep {

send_gate::send_gate(int requests_per_minute, int burst)
    : per_ms_(requests_per_minute > 0 ? requests_per_minute / 60000.0 : 0.0),
      capacity_(std::max(1, burst)),
      tokens_(capacity_) {}

void send_gate::set_rate(int requests_per_minute, int burst) {
    per_ms_ = requests_per_minute > 0 ? requests_per_minute / 60000.0 : 0.0;
    capacity_ = std::max(1, burst);
    tokens_ = std::min(tokens_, capacity_);
}

void send_gate::refill(steady_time now) const {
    if (per_ms_ == 0.0) return;
    if (refilled_ == steady_time{}) refilled_ = now;
    if (now <= refilled_) return;
    const double elapsed = std::chrono::duration<double, std::milli>(now - refilled_).count();
    tokens_ = std::min(capacity_, tokens_ + elapsed * per_ms_);
    refilled_ = now;
}

steady_time send_gate::ready_at(steady_time now) const {
    steady_time at = std::max(now, paused_until_);
    if (per_ms_ == 0.0) return at;
    refill(now);
    if (tokens_ >= 1.0) return at;
    const auto wait =
        std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil((1.0 - tokens_) / per_ms_)));
    return std::max(at, now + wait);
}

void send_gate::take(steady_time now) {
    if (per_ms_ == 0.0) return;
    refill(now);
    tokens_ -= 1.0;  // may dip below zero if called early; ready_at() then waits longer
}

void send_gate::pause(steady_time now, std::chrono::milliseconds d) {
    paused_until_ = std::max(paused_until_, now + d);
}

}  // namespace aep
