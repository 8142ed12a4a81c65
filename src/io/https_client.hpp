// HTTP/1.1 exchanges over TLS (or plain TCP to loopback) with pooled keep-alive connections.
// Owns: connecting (resolve, TCP, TLS with SNI and host-name verification), deadlines on every
// step, the idle-connection pool, and classifying transport failures. Does not own: what the
// requests mean, or retries beyond one resend on a pooled connection that was already dead.
// Event-loop thread only (the pool is unsynchronised by design).
#pragma once

#include "config/config.hpp"
#include "config/endpoint.hpp"
#include "config/proxy.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <openssl/ssl.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace aep {

namespace http = boost::beast::http;

// Transport-level outcome kinds, in the spirit of userver's classification: they drive retry
// decisions in callers. `none` means a complete HTTP response was received.
enum class transport_failure { none, network, timeout, tls, protocol };

const char* to_string(transport_failure f);

struct http_outcome {
    transport_failure failure = transport_failure::none;
    std::string error;          // human-readable cause when failure != none
    bool request_sent = false;  // false only when the server certainly never saw the request
    http::response<http::string_body> response;  // valid when failure == none
    std::chrono::microseconds elapsed{0};
};

// A client TLS context: TLS 1.2 or newer, peer verification on, system trust store plus an
// optional extra CA file, and an optional client certificate and key for servers that ask for
// one. Throws std::runtime_error naming the config key and file on failure.
boost::asio::ssl::context make_client_tls_context(const tls_config& tls);

// Whether `dir` holds certificates under `openssl rehash` names (<hash>.<n>), so that OpenSSL can
// look anchors up in it one at a time.
bool dir_has_hash_links(const std::string& dir);

struct https_client_stats {
    std::uint64_t connections_opened = 0;
    std::uint64_t tls_handshakes = 0;  // all completed handshakes ...
    std::uint64_t tls_resumed = 0;     // ... of which resumed an earlier session (abbreviated)
    std::uint64_t requests = 0;
};

// A request body streamed after the request's header (an upload), piece by piece, so that a
// file is never held whole in memory. The request's Content-Length is the caller's.
class body_source {
  public:
    virtual ~body_source() = default;
    // The next piece, valid until the next call; empty at the end.
    virtual boost::asio::awaitable<std::string_view> next() = 0;
    // From the start again (a resend on a fresh connection).
    virtual void rewind() = 0;
};

class https_client {
  public:
    https_client(boost::asio::any_io_executor ex, std::shared_ptr<boost::asio::ssl::context> tls,
                 std::chrono::milliseconds step_timeout, proxy_settings proxy = {});
    ~https_client();
    https_client(const https_client&) = delete;
    https_client& operator=(const https_client&) = delete;

    // Sends one request to `ep` and reads the whole response (body capped at 1 MiB). The
    // request's Host header is set here. Never throws for network conditions. `req` must
    // outlive the call (callers keep it in a named local).
    // With `body`, the request's own body is ignored and its Content-Length kept: the pieces
    // `body` gives follow the header (each write under the step timeout). A HEAD's answer is
    // read without a body.
    boost::asio::awaitable<http_outcome> send(const endpoint& ep,
                                              http::request<http::string_body>& req,
                                              body_source* body = nullptr);

    // Drops every idle connection (for shutdown and tests).
    void close_idle();

    // New TLS settings, step timeout and proxy (a reload): idle connections and cached TLS
    // sessions made with the old ones are dropped; exchanges in flight finish on theirs.
    void reconfigure(std::shared_ptr<boost::asio::ssl::context> tls,
                     std::chrono::milliseconds step_timeout, proxy_settings proxy);

    // Ends every exchange in flight now (their sends fail with `request_sent` as it stands) and
    // refuses new ones: the end of a stop's grace period.
    void abort_in_flight();

    const https_client_stats& stats() const { return stats_; }

    struct connection;  // opaque: TLS or plain stream plus its read buffer

  private:
    boost::asio::awaitable<std::unique_ptr<connection>> connect(const endpoint& ep,
                                                                http_outcome& out);
    bool prepare_tls(SSL* ssl_handle, const endpoint& ep, http_outcome& out);
    std::unique_ptr<connection> take_idle(const std::string& key);
    boost::asio::awaitable<bool> send_sealed(connection& conn, const std::string& head,
                                             body_source& body, http_outcome& out);

    boost::asio::any_io_executor ex_;
    std::shared_ptr<boost::asio::ssl::context> tls_;
    std::chrono::milliseconds timeout_;
    proxy_settings proxy_;
    std::set<connection*> busy_;  // connections with an operation in progress
    bool aborted_ = false;
    std::map<std::string, std::vector<std::unique_ptr<connection>>> idle_;
    // The last resumable TLS session per origin: a new connection resumes it (an abbreviated
    // handshake, no certificate chain to verify again).
    struct session_free {
        void operator()(SSL_SESSION* s) const;
    };
    std::map<std::string, std::unique_ptr<SSL_SESSION, session_free>> sessions_;
    https_client_stats stats_;
};

}  // namespace aep
