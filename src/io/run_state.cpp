#include "io/run_state.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace aep {

bool run_state::stop() {
    if (stopping_) return false;
    stopping_ = true;
    for (auto* t : sleepers_) t->cancel();
    return true;
}

boost::asio::awaitable<bool> run_state::pause(std::chrono::milliseconds d) {
    if (stopping_) co_return false;
    boost::asio::steady_timer t(ioc_);
    t.expires_after(d);
    sleepers_.insert(&t);
    co_await t.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    sleepers_.erase(&t);
    co_return !stopping_;
}

}  // namespace aep
