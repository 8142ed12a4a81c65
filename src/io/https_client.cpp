#include "io/https_client.hpp"

#include "io/tls_seal.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <dirent.h>
#include <optional>
#include <stdexcept>
#include <sys/socket.h>

namespace aep {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
// Idle connections older than this are dropped rather than reused: servers and load balancers
// commonly close idle keep-alive connections after 60 s, and a POST sent on a connection the
// server is closing has an unknown outcome.
constexpr auto max_idle = std::chrono::seconds(30);
constexpr std::size_t max_idle_per_origin = 64;
constexpr std::size_t max_body_bytes = 1024 * 1024;
constexpr std::uint32_t max_header_bytes = 64 * 1024;
// A sealed body goes to the socket once this much ciphertext is waiting (or at its end).
constexpr std::size_t sealed_write_bytes = 256 * 1024;

transport_failure classify(const boost::system::error_code& ec) {
    if (ec == beast::error::timeout || ec == asio::error::timed_out)
        return transport_failure::timeout;
    if (ec.category() == asio::error::get_ssl_category() ||
        ec == asio::ssl::error::stream_truncated) {
        return transport_failure::tls;
    }
    if (ec.category() == boost::system::error_code(http::error::bad_version).category()) {
        // A peer that closes mid-response surfaces as partial_message / end_of_stream.
        if (ec == http::error::end_of_stream || ec == http::error::partial_message) {
            return transport_failure::network;
        }
        return transport_failure::protocol;
    }
    return transport_failure::network;
}

std::string describe(const char* step, const boost::system::error_code& ec) {
    return std::string(step) + ": " + ec.message();
}

// Why the peer's certificate was refused, in OpenSSL's words, and what to do about it; empty
// when the handshake failed for another reason.
std::string verify_failure_detail(SSL* ssl_handle) {
    const long v = SSL_get_verify_result(ssl_handle);
    if (v == X509_V_OK) return {};
    std::string d = std::string(" (") + X509_verify_cert_error_string(v) + ")";
    switch (v) {
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
        case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
            return d + "; the server's chain does not end at a trusted anchor: if a private CA "
                       "(or a TLS-inspecting proxy) signs it, set tls.ca_file to its PEM file";
        case X509_V_ERR_HOSTNAME_MISMATCH:
        case X509_V_ERR_IP_ADDRESS_MISMATCH:
            return d + "; check the host in the URL (platform.*_url, auth.token_url)";
        case X509_V_ERR_CERT_HAS_EXPIRED:
        case X509_V_ERR_CERT_NOT_YET_VALID:
            return d + "; check this machine's clock";
        default:
            return d;
    }
}

// A CONNECT tunnel to `ep` on a connection to the proxy. False (out says
// why) when the proxy refuses or fails.
asio::awaitable<bool> tunnel(beast::tcp_stream& lowest, const endpoint& ep,
                             const proxy_settings& proxy, std::chrono::milliseconds timeout,
                             http_outcome& out) {
    const std::string head = connect_request(ep, proxy.authorization);
    lowest.expires_after(timeout);
    auto [wec, wn] = co_await asio::async_write(lowest, asio::buffer(head), nothrow);
    http::response_parser<http::empty_body> parser;
    parser.skip(true);  // a 2xx answer to CONNECT has no body: the tunnel follows
    beast::flat_buffer buf;
    boost::system::error_code pec = wec;
    if (!pec) {
        lowest.expires_after(timeout);
        auto [rec2, rn] = co_await http::async_read(lowest, buf, parser, nothrow);
        pec = rec2;
    }
    if (pec) {
        out.failure = classify(pec);
        out.error = describe(("proxy CONNECT to " + ep.host + ":" + ep.port).c_str(), pec);
        co_return false;
    }
    if (parser.get().result_int() / 100 != 2 || buf.size() != 0) {
        // Never echo the proxy's answer body: it is not ours to log.
        out.failure = transport_failure::network;
        out.error = "proxy (" + proxy.source + ") refused CONNECT to " + ep.host + ":" + ep.port +
                    ": HTTP " + std::to_string(parser.get().result_int());
        co_return false;
    }
    co_return true;
}

}  // namespace

const char* to_string(transport_failure f) {
    static constexpr const char* names[] = {"none", "network", "timeout", "tls", "protocol"};
    const auto i = static_cast<std::size_t>(f);
    return i < std::size(names) ? names[i] : "network";
}

struct https_client::connection {
    std::shared_ptr<ssl::context> ctx;  // the context the TLS stream was made with
    std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
    std::optional<beast::tcp_stream> plain;
    beast::flat_buffer buffer;
    std::chrono::steady_clock::time_point idle_since;

    beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

    // A pooled connection the peer has closed (or sent anything to, such as a TLS alert)
    // must not carry the next request.
    bool looks_alive() {
        auto& sock = lowest().socket();
        if (!sock.is_open()) return false;
        char c;
        const auto n = ::recv(sock.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
};

bool dir_has_hash_links(const std::string& dir) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return false;
    bool found = false;
    while (!found) {
        const auto* ent = ::readdir(d);
        if (!ent) break;
        // <8 hex digits>.<digit>, as `openssl rehash` names them.
        const std::string_view n(ent->d_name);
        found =
            n.size() >= 10 && n[8] == '.' &&
            std::all_of(n.begin(), n.begin() + 8,
                        [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }) &&
            std::all_of(n.begin() + 9, n.end(),
                        [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
    }
    ::closedir(d);
    return found;
}

namespace {

// The system's trust anchors. OpenSSL's default loads the whole bundle file at once (about
// 30 ms for Debian's ~140 certificates, paid at every start, reload and --check); the hashed
// directory that update-ca-certificates keeps beside it holds the same anchors and is read one
// certificate at a time, when a handshake needs it. The bundle is still loaded where that
// directory has no hash links, or where SSL_CERT_FILE or SSL_CERT_DIR name other stores than
// the system's (naming the system's own, as some images do, changes nothing).
std::string real_path(const char* p) {
    char buf[PATH_MAX];
    return p && ::realpath(p, buf) ? std::string(buf) : std::string();
}

void use_system_trust_store(ssl::context& ctx) {
    const char* file_env = std::getenv(X509_get_default_cert_file_env());
    const char* dir_env = std::getenv(X509_get_default_cert_dir_env());
    const std::string system_file = real_path(X509_get_default_cert_file());
    const std::string system_dir = real_path(X509_get_default_cert_dir());
    const bool system_stores = (!file_env || real_path(file_env) == system_file) &&
                               (!dir_env || real_path(dir_env) == system_dir);
    if (system_stores && !system_dir.empty() && dir_has_hash_links(system_dir) &&
        SSL_CTX_load_verify_dir(ctx.native_handle(), system_dir.c_str()) == 1) {
        return;
    }
    boost::system::error_code ec;
    ctx.set_default_verify_paths(ec);
    if (ec) throw std::runtime_error("cannot load the system trust store: " + ec.message());
}

}  // namespace

ssl::context make_client_tls_context(const tls_config& tls) {
    ssl::context ctx(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    // Idle keep-alive connections give their record buffers back (about 34 KiB each).
    SSL_CTX_set_mode(ctx.native_handle(), SSL_MODE_RELEASE_BUFFERS);
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_compression);
    use_system_trust_store(ctx);
    boost::system::error_code ec;
    if (!tls.ca_file.empty()) {
        ctx.load_verify_file(tls.ca_file, ec);
        if (ec) {
            throw std::runtime_error("tls.ca_file: cannot load " + tls.ca_file + ": " +
                                     ec.message());
        }
    }
    if (!tls.client_cert.empty()) {
        ctx.use_certificate_chain_file(tls.client_cert, ec);
        if (ec) {
            throw std::runtime_error("tls.client_cert: cannot load " + tls.client_cert + ": " +
                                     ec.message());
        }
        ctx.use_private_key_file(tls.client_key, ssl::context::pem, ec);
        if (ec) {
            throw std::runtime_error("tls.client_key: cannot load " + tls.client_key + ": " +
                                     ec.message());
        }
        if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
            throw std::runtime_error("tls.client_key: " + tls.client_key +
                                     " does not match tls.client_cert");
        }
    }
    ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    return ctx;
}

https_client::https_client(asio::any_io_executor ex, std::shared_ptr<ssl::context> tls,
                           std::chrono::milliseconds step_timeout, proxy_settings proxy)
    : ex_(std::move(ex)), tls_(std::move(tls)), timeout_(step_timeout), proxy_(std::move(proxy)) {}

https_client::~https_client() = default;

void https_client::session_free::operator()(SSL_SESSION* s) const { SSL_SESSION_free(s); }

void https_client::close_idle() { idle_.clear(); }

void https_client::reconfigure(std::shared_ptr<ssl::context> tls,
                               std::chrono::milliseconds step_timeout, proxy_settings proxy) {
    tls_ = std::move(tls);
    timeout_ = step_timeout;
    proxy_ = std::move(proxy);
    idle_.clear();
    sessions_.clear();
}

namespace {
// Marks a connection busy for as long as the mark lives, so abort_in_flight() can reach it.
template <class Conn>
struct busy_mark {
    std::set<Conn*>& set;
    Conn* conn;
    busy_mark(std::set<Conn*>& s, Conn* c) : set(s), conn(c) { set.insert(conn); }
    ~busy_mark() { set.erase(conn); }
    busy_mark(const busy_mark&) = delete;
    busy_mark& operator=(const busy_mark&) = delete;
};
}  // namespace

void https_client::abort_in_flight() {
    aborted_ = true;
    for (auto* c : busy_) {
        boost::system::error_code ec;
        c->lowest().socket().cancel(ec);
        c->lowest().socket().close(ec);
    }
}

std::unique_ptr<https_client::connection> https_client::take_idle(const std::string& key) {
    auto it = idle_.find(key);
    if (it == idle_.end()) return nullptr;
    auto& vec = it->second;
    const auto now = std::chrono::steady_clock::now();
    while (!vec.empty()) {
        auto c = std::move(vec.back());
        vec.pop_back();
        if (now - c->idle_since < max_idle && c->looks_alive()) return c;
    }
    return nullptr;
}

// Sets up a TLS connection to `ep` before its handshake: buffers kept, SNI, host-name
// verification, and the session to resume. False (out says why) when that cannot be done.
bool https_client::prepare_tls(SSL* ssl_handle, const endpoint& ep, http_outcome& out) {
    // Asio asks OpenSSL to free a connection's 17 KiB record buffers whenever they are
    // empty, so every request allocated and freed them again (malloc's large-chunk path,
    // a tenth of the loop's time in tests/bench profiles). A kept-alive connection keeps
    // them: about 34 KiB per connection, up to http.concurrency connections.
    SSL_clear_mode(ssl_handle, SSL_MODE_RELEASE_BUFFERS);
    boost::system::error_code addr_ec;
    asio::ip::make_address(ep.host, addr_ec);
    const bool is_ip = !addr_ec;
    // SNI only for names (RFC 6066 forbids IP literals); verification always.
    if (!is_ip) SSL_set_tlsext_host_name(ssl_handle, ep.host.c_str());
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_handle);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    const int set_ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, ep.host.c_str())
                             : X509_VERIFY_PARAM_set1_host(param, ep.host.c_str(), 0);
    if (set_ok != 1) {
        out.failure = transport_failure::tls;
        out.error = "cannot set up host-name verification for " + ep.host;
        return false;
    }
    if (auto it = sessions_.find(ep.origin_key()); it != sessions_.end()) {
        SSL_set_session(ssl_handle, it->second.get());
    }
    return true;
}

asio::awaitable<std::unique_ptr<https_client::connection>> https_client::connect(
    const endpoint& ep, http_outcome& out) {
    // Through a proxy, TCP goes to the proxy and a CONNECT tunnel carries TLS end to end.
    const bool proxied = use_proxy(proxy_, ep);
    const endpoint& peer = proxied ? *proxy_.proxy : ep;
    tcp::resolver resolver(ex_);
    asio::steady_timer timer(ex_);
    timer.expires_after(timeout_);
    auto resolved = co_await (resolver.async_resolve(peer.host, peer.port, nothrow) ||
                              timer.async_wait(nothrow));
    if (resolved.index() == 1) {
        out.failure = transport_failure::timeout;
        out.error = "resolve " + peer.host + ": timed out";
        co_return nullptr;
    }
    auto [rec, results] = std::get<0>(std::move(resolved));
    if (rec) {
        out.failure = transport_failure::network;
        out.error = describe(("resolve " + peer.host).c_str(), rec);
        co_return nullptr;
    }

    auto conn = std::make_unique<connection>();
    busy_mark mark(busy_, conn.get());
    beast::tcp_stream* lowest = nullptr;
    if (ep.tls) {
        conn->ctx = tls_;
        lowest = &beast::get_lowest_layer(conn->tls.emplace(ex_, *conn->ctx));
    } else {
        lowest = &conn->plain.emplace(ex_);
    }
    lowest->expires_after(timeout_);
    auto [cec, _] = co_await lowest->async_connect(results, nothrow);
    if (cec) {
        out.failure = classify(cec);
        out.error = describe(("connect " + peer.host + ":" + peer.port +
                              (proxied ? " (proxy, " + proxy_.source + ")" : std::string()))
                                 .c_str(),
                             cec);
        co_return nullptr;
    }
    ++stats_.connections_opened;
    lowest->socket().set_option(tcp::no_delay(true));

    if (proxied && !co_await tunnel(*lowest, ep, proxy_, timeout_, out)) co_return nullptr;
    if (ep.tls) {
        SSL* ssl_handle = conn->tls->native_handle();
        if (!prepare_tls(ssl_handle, ep, out)) co_return nullptr;
        lowest->expires_after(timeout_);
        auto [hec] = co_await conn->tls->async_handshake(ssl::stream_base::client, nothrow);
        if (hec) {
            out.failure =
                hec == beast::error::timeout ? transport_failure::timeout : transport_failure::tls;
            out.error = describe(("TLS handshake with " + ep.host).c_str(), hec);
            out.error += verify_failure_detail(ssl_handle);
            co_return nullptr;
        }
        ++stats_.tls_handshakes;
        if (SSL_session_reused(ssl_handle)) ++stats_.tls_resumed;
    }
    co_return conn;
}

// A request with a body over TLS: the header and the body's pieces sealed into records in
// bulk (io/tls_seal) and written to the socket a piece at a time, not a record at a time.
asio::awaitable<bool> https_client::send_sealed(connection& conn, const std::string& head,
                                                body_source& body, http_outcome& out) {
    tls_sealer sealer(conn.tls->native_handle());
    if (!sealer.seal(head)) {
        out.failure = transport_failure::tls;
        out.error = sealer.error();
        out.request_sent = false;
        co_return false;
    }
    bool first = true;  // the first write carries the header
    for (;;) {
        const auto piece = co_await body.next();
        if (!piece.empty() && !sealer.seal(piece)) {
            out.failure = transport_failure::tls;
            out.error = sealer.error();
            out.request_sent = !first;
            co_return false;
        }
        if (sealer.size() > 0 && (piece.empty() || sealer.size() >= sealed_write_bytes)) {
            conn.lowest().expires_after(timeout_);
            const auto bytes = sealer.out();
            auto [ec, n] = co_await asio::async_write(
                conn.lowest(), asio::buffer(bytes.data(), bytes.size()), nothrow);
            if (ec) {
                out.failure = classify(ec);
                out.error = describe(first ? "write request" : "write request body", ec);
                // An incomplete request cannot have been acted on; once the header went, the
                // server may have begun to.
                out.request_sent = !first;
                co_return false;
            }
            first = false;
            sealer.clear();
        }
        if (piece.empty()) break;
    }
    out.request_sent = true;
    co_return true;
}

asio::awaitable<http_outcome> https_client::send(const endpoint& ep,
                                                 http::request<http::string_body>& req,
                                                 body_source* body) {
    const auto started = std::chrono::steady_clock::now();
    req.set(http::field::host, ep.host_header());
    req.keep_alive(true);
    if (!body) req.prepare_payload();
    const bool head = req.method() == http::verb::head;
    const auto key = ep.origin_key();
    ++stats_.requests;
    // Serialised once, as one buffer: one TLS record per request, without Beast's serializer
    // walking its buffer sequences on every write (a fifth of the loop's time per request in
    // tests/bench profiles).
    std::string wire;
    wire.reserve(256 + req.body().size());
    wire += req.method_string();
    wire += ' ';
    wire += req.target();
    wire += " HTTP/1.1\r\n";
    for (const auto& f : req.base()) {
        wire += f.name_string();
        wire += ": ";
        wire += f.value();
        wire += "\r\n";
    }
    wire += "\r\n";
    if (!body) wire += req.body();

    http_outcome out;
    if (aborted_) {
        out.failure = transport_failure::network;
        out.error = "not sent: the daemon is stopping";
        co_return out;
    }
    // At most two tries: a pooled connection that dies while we write may be retried once on
    // a fresh one, because the server cannot act on a request it never fully received.
    for (int attempt = 0; attempt < 2; ++attempt) {
        out = http_outcome{};
        if (body && attempt > 0) body->rewind();
        auto conn = take_idle(key);
        const bool reused = conn != nullptr;
        if (!conn) {
            conn = co_await connect(ep, out);
            if (!conn) break;
        }

        busy_mark mark(busy_, conn.get());
        auto exchange = [&](auto& stream) -> asio::awaitable<bool> {
            if (body && conn->tls) {
                if (!co_await send_sealed(*conn, wire, *body, out)) co_return false;
            } else {
                conn->lowest().expires_after(timeout_);
                auto [wec, written_bytes] =
                    co_await asio::async_write(stream, asio::buffer(wire), nothrow);
                if (wec) {
                    out.failure = classify(wec);
                    out.error = describe("write request", wec);
                    // An incomplete request cannot have been acted on by the server.
                    out.request_sent = false;
                    co_return false;
                }
            }
            while (body && !conn->tls) {
                const auto piece = co_await body->next();
                if (piece.empty()) break;
                conn->lowest().expires_after(timeout_);
                auto [bec, n] = co_await asio::async_write(
                    stream, asio::buffer(piece.data(), piece.size()), nothrow);
                if (bec) {
                    out.failure = classify(bec);
                    out.error = describe("write request body", bec);
                    // The header went: the server may have begun to act on it.
                    out.request_sent = true;
                    co_return false;
                }
            }
            out.request_sent = true;
            http::response_parser<http::string_body> parser;
            parser.body_limit(max_body_bytes);
            parser.header_limit(max_header_bytes);
            if (head) parser.skip(true);  // an answer to HEAD has no body, whatever it says
            conn->lowest().expires_after(timeout_);
            auto [rec, read_bytes] =
                co_await http::async_read(stream, conn->buffer, parser, nothrow);
            if (rec) {
                out.failure = classify(rec);
                out.error = describe("read response", rec);
                co_return false;
            }
            out.response = parser.release();
            co_return true;
        };
        const bool ok = conn->tls ? co_await exchange(*conn->tls) : co_await exchange(*conn->plain);
        if (ok) {
            // TLS 1.3 tickets arrive after the handshake, so the session is taken once a
            // response has been read; the one the connection resumed is kept when no newer.
            if (conn->tls) {
                SSL_SESSION* s = SSL_get1_session(conn->tls->native_handle());
                if (s && SSL_SESSION_is_resumable(s)) {
                    sessions_[key].reset(s);
                } else if (s) {
                    SSL_SESSION_free(s);
                }
            }
            if (out.response.keep_alive()) {
                conn->lowest().expires_never();
                conn->idle_since = std::chrono::steady_clock::now();
                auto& vec = idle_[key];
                if (vec.size() < max_idle_per_origin) vec.push_back(std::move(conn));
            }
            break;
        }
        // A failed connection is discarded (never reused). Resend only when the server
        // certainly did not see the request, and never once the exchanges were aborted.
        if (aborted_ || !(reused && !out.request_sent)) break;
    }
    out.elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - started);
    co_return out;
}

}  // namespace aep
