// Whether the daemon is stopping, and pauses that a stop cuts short.
// Owns: the stopping flag and the timers of pauses under way. Threading: the loop only.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <set>

namespace aep {

class run_state {
  public:
    explicit run_state(boost::asio::io_context& ioc) : ioc_(ioc) {}

    bool stopping() const { return stopping_; }
    // Sets stopping and ends every pause under way. True the first time only.
    bool stop();

    // Waits `d`; false when the daemon is stopping (at once, or when the stop came meanwhile).
    boost::asio::awaitable<bool> pause(std::chrono::milliseconds d);

  private:
    boost::asio::io_context& ioc_;
    bool stopping_ = false;
    std::set<boost::asio::steady_timer*> sleepers_;
};

}  // namespace aep
