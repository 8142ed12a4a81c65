// The daemon: spools in, batches out, on one io_context thread.
// Owns: the queues' pending names, the workers (at most http.concurrency requests in flight),
// each entry's path from claim to done/ or failed/, start-up scans, inotify pick-up, reload,
// stop, and what /metrics and /healthz report.
// Does not own: parsing (entry, batch_api), transport (https_client), tokens (token_provider).
// Threading: everything runs on the io_context thread except spool calls, which run on a small
// file-I/O pool and resume on the loop; state touched there is captured by value.
#pragma once

#include "config/config.hpp"
#include "app/config_check.hpp"
#include "app/exit_codes.hpp"
#include "io/log.hpp"

#include <memory>
#include <string>

namespace aep {

struct run_options {
    bool once = false;        // process what is in the spools now, then exit
    std::string config_path;  // read again on SIGHUP
};

class daemon_impl;

class batch_daemon {
  public:
    // `loaded` must be ok(); the daemon reloads from opts.config_path on SIGHUP.
    batch_daemon(checked_config loaded, logger& log, run_options opts);
    ~batch_daemon();
    batch_daemon(const batch_daemon&) = delete;
    batch_daemon& operator=(const batch_daemon&) = delete;

    // Runs until SIGTERM/SIGINT (or, with --once, until the spools are drained); SIGHUP reloads
    // the configuration and the secret. Returns the process exit code.
    int run();

  private:
    std::unique_ptr<daemon_impl> impl_;
};

// A fresh, unique externalId: "aepb-" and 32 hex digits from the kernel's CSPRNG.
std::string new_external_id();

}  // namespace aep
