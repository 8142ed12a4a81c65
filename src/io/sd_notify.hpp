// The systemd service-manager notification protocol (sd_notify(3)), spoken directly: one
// datagram per message to $NOTIFY_SOCKET. Owns: the socket, READY/STATUS/STOPPING/WATCHDOG
// messages and the watchdog interval. Does nothing when not started by systemd. Loop thread.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace aep {

class sd_notifier {
  public:
    // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from the environment.
    sd_notifier();
    ~sd_notifier();
    sd_notifier(const sd_notifier&) = delete;
    sd_notifier& operator=(const sd_notifier&) = delete;

    bool enabled() const { return fd_ >= 0; }

    // Sends "KEY=value\n..." as one datagram; failures are ignored (the manager may be gone).
    void send(std::string_view state) const;

    // How often to send WATCHDOG=1 (half the configured watchdog timeout), when one is set for
    // this process.
    std::optional<std::chrono::milliseconds> keepalive_interval() const { return keepalive_; }

  private:
    int fd_ = -1;
    std::string address_;  // the socket path; a leading '@' names the abstract namespace
    std::optional<std::chrono::milliseconds> keepalive_;
};

// STATUS= text for `systemctl status`: what operators want at a glance.
// `uploading`: files in flight; `tracking`: completed batches waiting for their final status
// (each told when any).
std::string status_text(std::size_t pending, std::size_t in_flight, std::uint64_t done,
                        std::uint64_t failed, std::string_view last_batch,
                        std::size_t tracking = 0, std::size_t uploading = 0);

}  // namespace aep
