#include "aep/token_provider.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace aep {

namespace asio = boost::asio;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

}  // namespace

token_provider::token_provider(asio::any_io_executor ex, https_client& client,
                               const auth_config& auth, std::string secret, logger& log)
    : ex_(ex),
      client_(client),
      auth_(auth),
      token_endpoint_(*parse_endpoint(auth.token_url).value),
      secret_(std::move(secret)),
      log_(log),
      state_(auth.refresh_margin),
      wake_(ex),
      ready_(ex) {
    ready_.expires_at(std::chrono::steady_clock::time_point::max());
}

void token_provider::start() {
    asio::co_spawn(ex_, run(), [this](std::exception_ptr e) {
        if (!e) return;
        // Without the fetcher no token would ever come again: start a fresh one.
        log_.error("token fetcher failed unexpectedly; restarting it", {{"error", describe(e)}});
        if (!stopped_) start();
    });
}

void token_provider::stop() {
    stopped_ = true;
    wake_.cancel();
    ready_.cancel();
}

void token_provider::invalidate(const std::string& token) {
    if (state_.invalidate(token)) wake_.cancel();
}

asio::awaitable<std::optional<std::string>> token_provider::get() {
    while (!stopped_) {
        if (const auto* t = state_.usable(std::chrono::steady_clock::now())) co_return *t;
        // No usable token: make sure the fetcher is at it, then wait for its result.
        state_.demand();
        wake_.cancel();
        // ready_ never expires by itself (see the constructor); fetch_once() cancels it to
        // wake every waiter at once. Re-arming it here would cancel the other waiters.
        co_await ready_.async_wait(nothrow);
    }
    co_return std::nullopt;
}

bool token_provider::reconfigure(const auth_config& auth, std::string secret) {
    state_.set_margin(auth.refresh_margin);
    const bool changed = auth.token_url != auth_.token_url || auth.client_id != auth_.client_id ||
                         auth.scopes != auth_.scopes || secret != secret_;
    auth_ = auth;
    if (!changed) return false;
    token_endpoint_ = *parse_endpoint(auth.token_url).value;
    secret_ = std::move(secret);
    ++generation_;
    state_.forget();
    last_error_.clear();
    wake_.cancel();
    return true;
}

bool token_provider::healthy(std::string& why) const {
    if (state_.usable(std::chrono::steady_clock::now()) || state_.consecutive_failures() == 0) {
        return true;
    }
    why = "no access token: " + last_error_;
    return false;
}

asio::awaitable<void> token_provider::fetch_once() {
    // Named copies: a reload may replace the members while the request is under way.
    const endpoint ep = token_endpoint_;
    const std::uint64_t generation = generation_;
    auto req = token_request(ep, auth_, secret_);
    ++stats_.requests;
    // The lifetime counts from when the request was sent, not when the answer arrived.
    const auto sent_at = std::chrono::steady_clock::now();
    auto out = co_await client_.send(ep, req);
    if (generation != generation_) co_return;  // asked with credentials since replaced
    if (stopped_) co_return;  // a stop cut it off, or it no longer matters
    token_response parsed;
    if (out.failure != transport_failure::none) {
        parsed.outcome = token_response::kind::transient;
        parsed.message = std::string(to_string(out.failure)) + " error: " + out.error;
    } else {
        parsed = parse_token_response(out.response.result_int(), out.response.body());
    }
    if (parsed.outcome == token_response::kind::ok) {
        const auto life =
            state_.on_success(sent_at, std::move(parsed.access_token), parsed.expires_in);
        if (life.sanitized) {
            log_.warn("IMS token has no usable expires_in; assuming a short lifetime",
                      {{"assumed_s", static_cast<std::int64_t>(life.lifetime.count())}});
        }
        log_.debug("access token obtained",
                   {{"lifetime_s", static_cast<std::int64_t>(life.lifetime.count())}});
        ++stats_.issued;
        ready_.cancel();
        co_return;
    }
    ++stats_.failures;
    last_error_ = parsed.message;
    const bool config = parsed.outcome == token_response::kind::config_error;
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    const auto delay = state_.on_failure(
        std::chrono::steady_clock::now(),
        config ? token_state::failure_kind::config : token_state::failure_kind::transient,
        unit(rng_));
    const std::initializer_list<log_field> fields = {
        {"error", parsed.message},
        {"token_url", auth_.token_url},
        {"retry_in_ms", static_cast<std::int64_t>(delay.count())}};
    if (config) {
        log_.error(
            "cannot obtain an access token: check auth.client_id, the client secret and "
            "auth.scopes",
            fields);
    } else {
        log_.warn("cannot obtain an access token; retrying", fields);
    }
}

asio::awaitable<void> token_provider::run() {
    while (!stopped_) {
        const auto step = state_.next(std::chrono::steady_clock::now());
        if (step.fetch) {
            co_await fetch_once();
            continue;
        }
        // Sleep until the refresh time or the end of a back-off. demand() and invalidate()
        // cut the sleep short; next() still refuses to fetch during a back-off, so waiting
        // requests never make the daemon hammer IMS.
        wake_.expires_at(step.wait_until);
        co_await wake_.async_wait(nothrow);
    }
}

}  // namespace aep
