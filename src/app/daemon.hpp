// The daemon: spools in, batches out, on one io_context thread. Owns the wiring of its parts
// (pipeline/: intake, take_stage, api_channel, create_stage, recorder, workers; app/: health,
// reloader), its start, its signals and its two-stage stop; the parts own everything else.
// Threading: everything runs on the io_context thread except file work, which runs on a small
// file-I/O pool (io/file_pool.hpp) and resumes on the loop; state touched there is captured by
// value.
#pragma once

#include "app/config_check.hpp"
#include "app/exit_codes.hpp"
#include "config/config.hpp"
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

}  // namespace aep
