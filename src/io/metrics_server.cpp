#include "io/metrics_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <stdexcept>

namespace aep {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t max_connections = 16;
constexpr auto read_deadline = std::chrono::seconds(10);
}  // namespace

metrics_server::metrics_server(asio::any_io_executor ex, const listen_address& at, handler h)
    : ex_(ex), acceptor_(ex), handler_(std::move(h)) {
    boost::system::error_code ec;
    const auto addr = asio::ip::make_address(at.host, ec);
    if (ec) throw std::runtime_error("metrics.listen: bad address " + at.host);
    const tcp::endpoint ep(addr, at.port);
    const auto fail = [&](const char* step) {
        throw std::runtime_error("metrics.listen: cannot " + std::string(step) + " " +
                                 ep.address().to_string() + ":" + std::to_string(ep.port()) + ": " +
                                 ec.message());
    };
    acceptor_.open(ep.protocol(), ec);
    if (ec) fail("open");
    acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    acceptor_.bind(ep, ec);
    if (ec) fail("listen on");
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) fail("listen on");
}

metrics_server::~metrics_server() { stop(); }

std::string metrics_server::local_address() const {
    boost::system::error_code ec;
    const auto ep = acceptor_.local_endpoint(ec);
    if (ec) return "(closed)";
    const auto a = ep.address();
    return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" +
           std::to_string(ep.port());
}

void metrics_server::start() { asio::co_spawn(ex_, accept_loop(), asio::detached); }

void metrics_server::stop() {
    *alive_ = false;
    boost::system::error_code ec;
    acceptor_.close(ec);
    for (auto* s : open_) s->close(ec);
    open_.clear();
}

asio::awaitable<void> metrics_server::accept_loop() {
    const auto alive = alive_;
    while (*alive) {
        auto [ec, sock] = co_await acceptor_.async_accept(nothrow);
        if (!*alive) co_return;
        if (ec) {
            if (ec == asio::error::operation_aborted) co_return;
            continue;  // e.g. EMFILE: the next accept may succeed
        }
        if (open_.size() >= max_connections) {
            boost::system::error_code ignored;
            sock.close(ignored);
            continue;
        }
        asio::co_spawn(ex_, serve(std::move(sock)), asio::detached);
    }
}

asio::awaitable<void> metrics_server::serve(tcp::socket sock) {
    const auto alive = alive_;
    beast::tcp_stream stream(std::move(sock));
    auto* raw = &stream.socket();
    open_.insert(raw);
    beast::flat_buffer buf(8192);
    while (*alive) {
        http::request_parser<http::empty_body> parser;
        parser.header_limit(8192);
        parser.body_limit(0);
        stream.expires_after(read_deadline);
        auto [rec, rn] = co_await http::async_read(stream, buf, parser, nothrow);
        if (rec || !*alive) break;
        const auto& req = parser.get();
        http::response<http::string_body> res;
        res.version(11);
        res.set(http::field::server, "aep-batchd");
        res.set(http::field::cache_control, "no-store");
        if (req.method() != http::verb::get && req.method() != http::verb::head) {
            res.result(http::status::method_not_allowed);
            res.set(http::field::allow, "GET, HEAD");
            res.set(http::field::content_type, "text/plain; charset=utf-8");
            res.body() = "method not allowed\n";
        } else {
            auto ans = handler_(req.target());
            res.result(ans.status);
            res.set(http::field::content_type, ans.content_type);
            res.body() = std::move(ans.body);
        }
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        if (req.method() == http::verb::head) res.body().clear();
        stream.expires_after(read_deadline);
        http::response_serializer<http::string_body> sr(res);
        if (req.method() == http::verb::head) sr.split(true);
        boost::system::error_code wec;
        if (req.method() == http::verb::head) {
            std::tie(wec, std::ignore) = co_await http::async_write_header(stream, sr, nothrow);
        } else {
            std::tie(wec, std::ignore) = co_await http::async_write(stream, sr, nothrow);
        }
        if (wec || !res.keep_alive() || !*alive) break;
    }
    if (*alive) {
        open_.erase(raw);
        boost::system::error_code ec;
        stream.socket().shutdown(tcp::socket::shutdown_both, ec);
        stream.socket().close(ec);
    }
}

}  // namespace aep
