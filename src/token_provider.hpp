// Access tokens from Adobe IMS (OAuth server-to-server, client-credentials grant).
// Owns: the client secret in memory (read once, at one place), the current token, the single
// background fetcher (so at most one token request is ever in flight) and its back-off.
// Does not own: the timing arithmetic (token_schedule) or the transport (https_client).
// Event-loop thread only. Neither the secret nor any token is ever logged.
#pragma once

#include "config.hpp"
#include "endpoint.hpp"
#include "https_client.hpp"
#include "log.hpp"
#include "token_schedule.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <optional>
#include <random>
#include <string>

namespace aep {

// Reads the client secret from the configured source: auth.client_secret_file,
// auth.client_secret_env, or the systemd credential "client_secret" in $CREDENTIALS_DIRECTORY.
// A trailing newline is dropped. On failure `error` names the source (never the value).
struct secret_result {
    std::string secret;
    std::string error;
    std::string warning;  // e.g. a secret file readable by group or others
    std::string source;   // "file /path", "env VAR", "credential client_secret"
};
secret_result read_client_secret(const auth_config& auth);

// What an IMS answer means. Pure, so it can be tested and fuzzed without a server.
struct token_response {
    enum class kind { ok, config_error, transient } outcome = kind::transient;
    std::string access_token;                // when ok
    std::optional<std::int64_t> expires_in;  // seconds, as sent
    std::string message;                     // cause for logs; never contains a token
};
token_response parse_token_response(unsigned status, std::string_view body);

// application/x-www-form-urlencoded body of a client-credentials token request.
std::string token_request_body(const auth_config& auth, const std::string& secret);

struct token_stats {
    std::uint64_t requests = 0;  // token requests sent to IMS
    std::uint64_t failures = 0;
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

    bool has_valid_token() const;
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
};

}  // namespace aep
