#include "io/inotify_watcher.hpp"

#include <boost/asio/use_awaitable.hpp>

#include <cstring>
#include <sys/inotify.h>
#include <system_error>

namespace aep {

inotify_watcher::inotify_watcher(const boost::asio::any_io_executor& ex)
    : fd_(ex), buf_(64 * 1024) {
    const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "inotify_init1");
    fd_.assign(fd);
}

int inotify_watcher::add_watch(const std::string& dir) {
    const int wd = ::inotify_add_watch(fd_.native_handle(), dir.c_str(),
                                       IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE | IN_ONLYDIR);
    if (wd < 0) throw std::system_error(errno, std::generic_category(), "inotify_add_watch " + dir);
    return wd;
}

void inotify_watcher::remove_watch(int wd) {
    // Fails only when the directory is gone, and then the watch went with it.
    (void)::inotify_rm_watch(fd_.native_handle(), wd);
}

boost::asio::awaitable<decoded_events> inotify_watcher::next() {
    // The kernel returns whole events per read(2), so each read decodes completely.
    const auto n =
        co_await fd_.async_read_some(boost::asio::buffer(buf_), boost::asio::use_awaitable);
    co_return decode_inotify(std::span<const char>(buf_.data(), n));
}

void inotify_watcher::close() {
    boost::system::error_code ec;
    fd_.close(ec);
}

}  // namespace aep
