// Access tokens from Adobe IMS (OAuth server-to-server, client-credentials grant).
// Owns: the client secret in memory (read once, at one place), the current token, the single
// background fetcher (so at most one token request is ever in flight) and its back-off.
// Does not own: the timing arithmetic (token_schedule) or the transport (https_client).
// Event-loop thread only. Neither the secret nor any token is ever logged.
#pragma once

#include "aep/ims.hpp"
#include "aep/token_schedule.hpp"
#include "config/config.hpp"
#include "config/endpoint.hpp"
#include "io/https_client.hpp"
#include "io/log.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <optional>
#include <random>
#include <string>

namespace aep {

struct token_stats {
    std::uint64_t requests = 0;  // token requests sent to IMS
    std::uint64_t failures = 0;
    std::uint64_t issued = 0;  // tokens received
};

class token_provider {
  public:
    token_provider(boost::asio::any_io_executor ex, https_client& client, const auth_config& auth,
                   std::string secret, logger& log);

    // Starts the background fetcher; the first token is requested at once.
    void start();
    void stop();

    // A token that is valid now. Waits while none can be had (entries wait; they are not
    // failed). Returns nullopt only when stopping.
    boost::asio::awaitable<std::optional<std::string>> get();

    // The API answered 401 to `token`: forget it, unless a newer token is already held.
    void invalidate(const std::string& token);

    // A reload: new auth settings and secret. When the credentials or the token URL changed,
    // the token held is dropped and a new one fetched at once (an answer to a request made
    // with the old credentials is discarded). Returns true in that case.
    bool reconfigure(const auth_config& auth, std::string secret);

    // Whether a token can be had: one is held, or none has been refused or failed yet. When
    // false, `why` holds the last failure.
    bool healthy(std::string& why) const;

    const token_stats& stats() const { return stats_; }

  private:
    boost::asio::awaitable<void> run();
    boost::asio::awaitable<void> fetch_once();

    boost::asio::any_io_executor ex_;
    https_client& client_;
    auth_config auth_;
    endpoint token_endpoint_;
    std::string secret_;
    logger& log_;
    token_state state_;
    boost::asio::steady_timer wake_;   // the fetcher's sleep; demand() and stop() cut it short
    boost::asio::steady_timer ready_;  // waiters sleep here; a new token wakes them all
    bool stopped_ = false;
    std::mt19937_64 rng_{std::random_device{}()};
    token_stats stats_;
    std::uint64_t generation_ = 0;  // bumped by reconfigure(); stale answers are dropped
    std::string last_error_;
};

}  // namespace aep
