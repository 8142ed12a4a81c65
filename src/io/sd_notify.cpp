#include "io/sd_notify.hpp"

#include <cstdlib>
#include <cstring>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace aep {

sd_notifier::sd_notifier() {
    const char* path = std::getenv("NOTIFY_SOCKET");
    if (path && (path[0] == '/' || path[0] == '@') &&
        std::strlen(path) < sizeof(sockaddr_un::sun_path)) {
        address_ = path;
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    }
    const char* usec = std::getenv("WATCHDOG_USEC");
    const char* pid = std::getenv("WATCHDOG_PID");
    const bool for_us = !pid || std::strtol(pid, nullptr, 10) == static_cast<long>(::getpid());
    if (usec && for_us) {
        const long long us = std::strtoll(usec, nullptr, 10);
        if (us > 0) keepalive_ = std::chrono::milliseconds(std::max(1LL, us / 2000));
    }
}

sd_notifier::~sd_notifier() {
    if (fd_ >= 0) ::close(fd_);
}

void sd_notifier::send(std::string_view state) const {
    if (fd_ < 0) return;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, address_.data(), address_.size());
    socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size());
    if (address_[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
    (void)::sendto(fd_, state.data(), state.size(), MSG_NOSIGNAL,
                   reinterpret_cast<const sockaddr*>(&addr), len);
}

std::string status_text(std::size_t pending, std::size_t in_flight, std::uint64_t done,
                        std::uint64_t failed, std::string_view last_batch,
                        std::size_t tracking, std::size_t uploading) {
    std::string s = "pending " + std::to_string(pending) + ", in flight " +
                    std::to_string(in_flight) + ", done " + std::to_string(done) + ", failed " +
                    std::to_string(failed);
    if (uploading > 0) s += ", uploading " + std::to_string(uploading);
    if (tracking > 0) s += ", tracking " + std::to_string(tracking);
    if (!last_batch.empty()) s += ", last batch " + std::string(last_batch);
    return s;
}

}  // namespace aep
