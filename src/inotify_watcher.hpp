// Event-driven pick-up of new spool entries: inotify on an Asio stream_descriptor.
// Owns: the inotify descriptor and decoding its byte stream (decode_inotify is pure, for tests).
// Does not own: what to do with a name (the daemon decides). Event-loop thread only.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace aep {

struct fs_event {
    int watch = -1;  // the value add_watch returned
    std::uint32_t mask = 0;
    std::string name;  // entry name inside the watched directory ("" for directory events)
};

struct decoded_events {
    std::vector<fs_event> events;
    bool overflow = false;     // the kernel dropped events: rescan every watched directory
    std::size_t consumed = 0;  // bytes decoded; a partial trailing record is left unconsumed
};

// Decodes a buffer of struct inotify_event records. Never reads past `bytes`.
decoded_events decode_inotify(std::span<const char> bytes);

class inotify_watcher {
  public:
    explicit inotify_watcher(const boost::asio::any_io_executor& ex);

    // Watches dir for entries arriving by rename or by close-after-write. Throws on failure.
    int add_watch(const std::string& dir);

    // Waits for the next events. Completes with an error when the watcher is closed.
    boost::asio::awaitable<decoded_events> next();

    void close();

  private:
    boost::asio::posix::stream_descriptor fd_;
    std::vector<char> buf_;
};

}  // namespace aep
