// Event-driven pick-up of new spool entries: inotify on an Asio stream_descriptor.
// Owns: the inotify descriptor (decoding its bytes is inotify_decode's).
// Does not own: what to do with a name (the daemon decides). Event-loop thread only.
#pragma once

#include "io/inotify_decode.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace aep {

class inotify_watcher {
  public:
    explicit inotify_watcher(const boost::asio::any_io_executor& ex);

    // Watches dir for entries arriving by rename, by close-after-write, or by creation (the
    // caller decides which creations are complete). Throws on failure.
    int add_watch(const std::string& dir);
    void remove_watch(int wd);

    // Waits for the next events. Completes with an error when the watcher is closed.
    boost::asio::awaitable<decoded_events> next();

    void close();

  private:
    boost::asio::posix::stream_descriptor fd_;
    std::vector<char> buf_;
};

}  // namespace aep
