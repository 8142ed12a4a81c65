// The loopback HTTP/1.1 listener behind metrics.listen: GET /metrics and GET /healthz.
// Owns: the listening socket, its connections (at most 16, each with a read deadline, small
// request limits) and their shutdown. Does not own: what the answers say (app/health).
// Event-loop thread only.
#pragma once

#include "config/config.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <functional>
#include <memory>
#include <set>
#include <string>

namespace aep {

struct http_answer {
    unsigned status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
};

class metrics_server {
  public:
    // Called with the request target of each GET or HEAD.
    using handler = std::function<http_answer(std::string_view target)>;

    // Binds and listens at once; throws std::runtime_error naming metrics.listen on failure.
    metrics_server(boost::asio::any_io_executor ex, const listen_address& at, handler h);
    ~metrics_server();
    metrics_server(const metrics_server&) = delete;
    metrics_server& operator=(const metrics_server&) = delete;

    // "127.0.0.1:9464": where it listens (the port the system chose when 0 was asked).
    std::string local_address() const;

    void start();
    // Closes the listener and every connection.
    void stop();

  private:
    boost::asio::awaitable<void> accept_loop();
    boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket sock);

    boost::asio::any_io_executor ex_;
    boost::asio::ip::tcp::acceptor acceptor_;
    handler handler_;
    std::set<boost::asio::ip::tcp::socket*> open_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace aep
