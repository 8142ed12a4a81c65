// When the next API request may leave: a client-side rate limit (token bucket, requests per
// minute for the whole org) and a shared pause after a 429, so the daemon slows down as a whole
// instead of every request finding out on its own. Pure: time is passed in.
#pragma once

#include "aep/token_schedule.hpp"

#include <chrono>

namespace aep {

class send_gate {
  public:
    // requests_per_minute 0 disables the rate limit. burst is how many requests may leave
    // back to back after an idle period.
    send_gate(int requests_per_minute, int burst);

    // The earliest time a request may leave, seen at `now`.
    steady_time ready_at(steady_time now) const;

    // A request leaves at `now` (call only when now >= ready_at(now)).
    void take(steady_time now);

    // The server said "slow down" at `now`: nobody sends before now + d.
    void pause(steady_time now, std::chrono::milliseconds d);

    steady_time paused_until() const { return paused_until_; }

    // A reload changed the limit: the tokens saved up so far are kept (up to the new burst),
    // and so is a pause in progress.
    void set_rate(int requests_per_minute, int burst);

  private:
    void refill(steady_time now) const;

    double per_ms_;  // tokens added per millisecond (0: unlimited)
    double capacity_;
    mutable double tokens_;
    mutable steady_time refilled_{};
    steady_time paused_until_{};
};

}  // namespace aep
