// Reload (SIGHUP): the configuration and the secret read again, checked whole, and applied
// without dropping anything (policy/reload_plan.hpp says what changes). Everything that can
// fail is tried before anything changes: new spools must be usable and a new metrics address
// free; then the new settings are committed at once.
// Owns: the reload's sequencing. Threading: the loop; loading on the file pool.
#pragma once

#include "aep/token_provider.hpp"
#include "app/config_check.hpp"
#include "app/health.hpp"
#include "io/https_client.hpp"
#include "io/sd_notify.hpp"
#include "pipeline/api_channel.hpp"
#include "pipeline/intake.hpp"
#include "pipeline/workers.hpp"
#include "policy/reload_plan.hpp"

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <string>
#include <vector>

namespace aep {

// The daemon's parts a reload reconfigures.
struct reload_targets {
    config& cfg;  // the running configuration, assigned in place
    const std::string& config_path;
    logger& log;
    sd_notifier& notify;
    file_pool& files;
    run_state& run;
    token_provider& tokens;
    https_client& client;
    api_channel& api;
    intake& in;
    workers& work;
    health& status;
    std::function<void()> on_change;  // after a reload's queues started (--once looks)
};

class reloader {
  public:
    reloader(boost::asio::io_context& ioc, reload_targets t) : ioc_(ioc), t_(t) {}

    // SIGHUP: reloads now, or once start-up (or the reload under way) is over.
    void request();
    // Start-up is over: a reload asked for meanwhile runs now.
    void started();

  private:
    boost::asio::awaitable<void> reload();
    boost::asio::awaitable<bool> apply(checked_config& next);
    boost::asio::awaitable<void> prepare_spools(checked_config& next, const reload_plan& plan);
    std::unique_ptr<metrics_server> open_metrics(checked_config& next);
    std::vector<spool_queue*> commit_queues(const config& n, const reload_plan& plan,
                                            std::string& removed_names);

    boost::asio::io_context& ioc_;
    reload_targets t_;
    bool started_ = false;
    bool reloading_ = false;     // a reload is under way
    bool reload_again_ = false;  // SIGHUP arrived meanwhile (or before start-up finished)
};

}  // namespace aep
