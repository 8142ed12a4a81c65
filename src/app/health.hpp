// What the daemon tells the outside about itself: /metrics and /healthz (the listener on
// metrics.listen), STATUS= for systemd, and the watchdog heartbeat from the loop itself.
// Owns: the listener, the heartbeat, the reload counters. Reads the other parts' stats only.
// Threading: the loop.
#pragma once

#include "aep/token_provider.hpp"
#include "io/https_client.hpp"
#include "io/metrics_server.hpp"
#include "io/sd_notify.hpp"
#include "pipeline/context.hpp"
#include "pipeline/intake.hpp"
#include "pipeline/recorder.hpp"
#include "pipeline/tracker.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace aep {

class health {
  public:
    health(pipeline_context& ctx, sd_notifier& notify, const token_provider& tokens,
           const https_client& client, const intake& in, const recorder& records,
           const tracker& tracked);

    // A listener on `listen` answering /metrics and /healthz; throws when it cannot listen.
    std::unique_ptr<metrics_server> open(const std::string& listen);
    std::unique_ptr<metrics_server>& listener() { return listener_; }

    bool healthy(std::string& why) const;
    http_answer answer(std::string_view target) const;
    std::string status() const;  // for STATUS=
    void start_heartbeat();      // when systemd listens

    std::uint64_t reloads = 0, reload_failures = 0;

  private:
    boost::asio::awaitable<void> heartbeat();

    pipeline_context& ctx_;
    sd_notifier& notify_;
    const token_provider& tokens_;
    const https_client& client_;
    const intake& intake_;
    const recorder& records_;
    const tracker& tracked_;
    std::unique_ptr<metrics_server> listener_;
    boost::asio::steady_timer heartbeat_timer_;
    const std::chrono::system_clock::time_point started_at_ = std::chrono::system_clock::now();
};

}  // namespace aep
