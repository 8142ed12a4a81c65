// aep-batchd's entry point: parse arguments (app/cli.hpp), load and check the config, run the daemon, map the
// outcome to an exit code. Everything else lives in src/.
#include "config/config.hpp"
#include "app/cli.hpp"
#include "app/config_check.hpp"
#include "app/daemon.hpp"
#include "app/config_dump.hpp"
#include "app/enqueue.hpp"
#include "app/online_check.hpp"
#include "app/spool_commands.hpp"
#include "io/https_client.hpp"
#include "io/log.hpp"
#include "config/proxy.hpp"
#include "aep/token_provider.hpp"

#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <malloc.h>
#include <sys/resource.h>
#include <optional>
#include <string>
#include <vector>

namespace {

std::string trim(const std::string& s) {
    const auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return {};
    return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// Where the configuration came from, when it was not named: the operator may have meant another.
void default_config_hint(const aep::command_line& cl) {
    if (!cl.config_given) {
        std::fprintf(stderr, "aep-batchd: (%s is the default; give --config FILE for another)\n",
                     cl.config_path.c_str());
    }
}

// The configuration a command works with (the secret is never read), or its errors printed.
std::optional<aep::config> load_for_command(const aep::command_line& cl) {
    auto loaded = aep::load_config(cl.config_path);
    if (loaded.validation.ok()) return std::move(loaded.cfg);
    for (const auto& e : loaded.validation.errors) {
        std::fprintf(stderr, "aep-batchd: config error: %s\n", e.to_string().c_str());
    }
    default_config_hint(cl);
    return std::nullopt;
}

int enqueue_main(const aep::command_line& cl) {
    std::vector<std::string> ids;
    for (const auto& a : cl.ids) {
        if (a != "-") {
            ids.push_back(a);
            continue;
        }
        std::string line;
        while (std::getline(std::cin, line)) {
            if (auto id = trim(line); !id.empty()) ids.push_back(id);
        }
    }
    const auto cfg = load_for_command(cl);
    if (!cfg) return aep::exit_config;
    return aep::run_enqueue(*cfg, cl.queue, ids, std::cout, std::cerr);
}

// The spool commands and `config`: the configuration is read (never the secret).
int command_main(const aep::command_line& cl) {
    using action = aep::command_line::action;
    if (cl.what == action::config && cl.defaults) {
        std::fputs(aep::dump_defaults().c_str(), stdout);
        return aep::exit_ok;
    }
    const auto cfg = load_for_command(cl);
    if (!cfg) return aep::exit_config;
    switch (cl.what) {
        case action::status:
            return aep::run_status(*cfg, cl, std::cout, std::cerr);
        case action::list:
            return aep::run_list(*cfg, cl, std::cout, std::cerr);
        case action::show:
            return aep::run_show(*cfg, cl, std::cout, std::cerr);
        case action::requeue:
            return aep::run_requeue(*cfg, cl, std::cout, std::cerr);
        default:
            std::fputs(aep::dump_config(*cfg).c_str(), stdout);
            return aep::exit_ok;
    }
}

// Each entry in flight keeps its file open (its owner's lock, io/spool.hpp): up to 20 per request
// slot (4 workers and 16 records being written apart), beyond the soft limit of 1024 a service
// starts with. The soft limit goes up to the hard one (systemd's default is 524288).
void raise_open_files(const aep::config& cfg, aep::logger& log) {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
    const auto needed = static_cast<rlim_t>(21 * cfg.http.concurrency + 256);
    if (rl.rlim_cur < needed) {
        log.warn("the open-file limit may be too low for http.concurrency; raise LimitNOFILE=",
                  {{"limit", static_cast<std::int64_t>(rl.rlim_cur)},
                   {"needed", static_cast<std::int64_t>(needed)}});
    }
}

}  // namespace

int main(int argc, char** argv) {
    // One malloc arena per file-pool thread would let freed memory scatter over many heaps;
    // two keep the resident size flat however long the daemon runs (tests/bench measures it).
    mallopt(M_ARENA_MAX, 2);
    // A log reader that goes away (a closed pipe, a restarted journald) must not kill the
    // daemon: writes then fail with EPIPE instead of raising SIGPIPE.
    std::signal(SIGPIPE, SIG_IGN);
    // The read lease that tells a file still being written (spool take) makes the kernel send
    // SIGIO to its holder when a writer opens that file in the instant before it is released;
    // SIGIO's default action would end the daemon. The writer's open just proceeds.
    std::signal(SIGIO, SIG_IGN);
    const auto cl = aep::parse_command_line(std::vector<std::string>(argv, argv + argc));
    using action = aep::command_line::action;
    switch (cl.what) {
        case action::error:
            std::fputs(cl.text.c_str(), stderr);
            return aep::exit_usage;
        case action::help:
            std::fputs(cl.text.c_str(), stdout);
            return aep::exit_ok;
        case action::version:
            std::fputs(aep::version_text().c_str(), stdout);
            return aep::exit_ok;
        case action::enqueue:
            return enqueue_main(cl);
        case action::status:
        case action::list:
        case action::show:
        case action::requeue:
        case action::config:
            return command_main(cl);
        case action::run:
        case action::check:
            break;
    }
    const std::string& config_path = cl.config_path;
    const bool check = cl.what == action::check;
    const bool once = cl.once;

    auto loaded = aep::load_checked_config(
        config_path, check ? aep::spool_rights_of::service_user : aep::spool_rights_of::this_process);
    if (check) {
        for (const auto& w : loaded.warnings) std::printf("warning: %s\n", w.c_str());
        for (const auto& e : loaded.errors) std::printf("%s\n", e.c_str());
        if (!loaded.ok()) return aep::exit_config;
        std::printf("%s: OK (%zu queue%s)\n", config_path.c_str(), loaded.cfg.queues.size(),
                    loaded.cfg.queues.size() == 1 ? "" : "s");
        std::fflush(stdout);
        return cl.online ? aep::run_online_check(loaded, std::cout) : aep::exit_ok;
    }
    if (!loaded.ok()) {
        for (const auto& e : loaded.errors) {
            std::fprintf(stderr, "aep-batchd: config error: %s\n", e.c_str());
        }
        default_config_hint(cl);
        return aep::exit_config;
    }

    aep::logger log(loaded.cfg.log);
    for (const auto& w : loaded.warnings) log.warn(w);
    raise_open_files(loaded.cfg, log);
    try {
        aep::batch_daemon d(std::move(loaded), log, aep::run_options{once, config_path});
        return d.run();
    } catch (const std::exception& e) {
        log.error("fatal", {{"error", e.what()}});
        return aep::exit_failure;
    }
}
