// aep-batchd's entry point: parse arguments, load and check the config, run the daemon, map the
// outcome to an exit code. Everything else lives in src/.
#include "config/config.hpp"
#include "app/config_check.hpp"
#include "app/daemon.hpp"
#include "app/enqueue.hpp"
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
#include <optional>
#include <string>
#include <vector>

namespace {

constexpr const char* usage =
    "usage: aep-batchd --config FILE [--once | --check]\n"
    "       aep-batchd enqueue --config FILE [--queue NAME] DATASET_ID... | -\n"
    "       aep-batchd --version | --help\n"
    "\n"
    "Creates an Adobe Experience Platform batch for every dataset id dropped into the\n"
    "configured spool directories, and records each outcome in done/ or failed/.\n"
    "\n"
    "  --config FILE  the YAML configuration (see config/aep-batchd.example.yaml)\n"
    "  --check        validate the configuration and the client secret, print every\n"
    "                 problem (one per line, naming the key), exit 0 or 78\n"
    "  --once         process everything in the spools now, then exit 0\n"
    "  --version      print the version\n"
    "  --help         print this help\n"
    "\n"
    "SIGHUP re-reads the configuration and the client secret (a configuration with any\n"
    "problem is refused and the running one stays); SIGTERM and SIGINT stop gracefully.\n"
    "\n"
    "enqueue drops each dataset id into the queue's spool as its own entry (written in tmp/,\n"
    "renamed into incoming/) and prints the entry names; '-' reads ids from standard input,\n"
    "one per line. Every id is checked first: if one is invalid, nothing is enqueued (exit 65).\n";

std::string trim(const std::string& s) {
    const auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return {};
    return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

int enqueue_main(int argc, char** argv) {
    std::string config_path;
    std::optional<std::string> queue;
    std::vector<std::string> ids;
    for (int i = 2; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--config" && i + 1 < argc) {
            config_path = argv[++i];
        } else if (a == "--queue" && i + 1 < argc) {
            queue = argv[++i];
        } else if (a == "-") {
            std::string line;
            while (std::getline(std::cin, line)) {
                if (auto id = trim(line); !id.empty()) ids.push_back(id);
            }
        } else if (a.rfind("--", 0) == 0) {
            std::fprintf(stderr, "aep-batchd enqueue: unknown argument '%s'\n%s", a.c_str(), usage);
            return aep::exit_usage;
        } else {
            ids.push_back(a);
        }
    }
    if (config_path.empty()) {
        std::fprintf(stderr, "aep-batchd enqueue: --config FILE is required\n");
        return aep::exit_usage;
    }
    auto loaded = aep::load_config(config_path);
    if (!loaded.validation.ok()) {
        for (const auto& e : loaded.validation.errors) {
            std::fprintf(stderr, "aep-batchd: config error: %s\n", e.to_string().c_str());
        }
        return aep::exit_config;
    }
    return aep::run_enqueue(loaded.cfg, queue, ids, std::cout, std::cerr);
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
    if (argc > 1 && std::string(argv[1]) == "enqueue") return enqueue_main(argc, argv);
    std::string config_path;
    bool check = false, once = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--help" || a == "-h") {
            std::fputs(usage, stdout);
            return aep::exit_ok;
        } else if (a == "--version") {
            std::printf("aep-batchd %s\n", AEP_BATCHD_VERSION);
            return aep::exit_ok;
        } else if (a == "--check") {
            check = true;
        } else if (a == "--once") {
            once = true;
        } else if (a == "--config" && i + 1 < argc) {
            config_path = argv[++i];
        } else if (a.rfind("--config=", 0) == 0) {
            config_path = a.substr(9);
        } else {
            std::fprintf(stderr, "aep-batchd: unknown argument '%s'\n%s", a.c_str(), usage);
            return aep::exit_usage;
        }
    }
    if (config_path.empty()) {
        std::fprintf(stderr, "aep-batchd: --config FILE is required\n%s", usage);
        return aep::exit_usage;
    }
    if (check && once) {
        std::fprintf(stderr, "aep-batchd: --check and --once cannot be combined\n");
        return aep::exit_usage;
    }

    auto loaded = aep::load_checked_config(config_path);
    if (check) {
        for (const auto& w : loaded.warnings) std::printf("warning: %s\n", w.c_str());
        for (const auto& e : loaded.errors) std::printf("%s\n", e.c_str());
        if (!loaded.ok()) return aep::exit_config;
        std::printf("%s: OK (%zu queue%s)\n", config_path.c_str(), loaded.cfg.queues.size(),
                    loaded.cfg.queues.size() == 1 ? "" : "s");
        return aep::exit_ok;
    }
    if (!loaded.ok()) {
        for (const auto& e : loaded.errors) {
            std::fprintf(stderr, "aep-batchd: config error: %s\n", e.c_str());
        }
        return aep::exit_config;
    }

    aep::logger log(loaded.cfg.log);
    for (const auto& w : loaded.warnings) log.warn(w);
    try {
        aep::batch_daemon d(std::move(loaded), log, aep::run_options{once, config_path});
        return d.run();
    } catch (const std::exception& e) {
        log.error("fatal", {{"error", e.what()}});
        return aep::exit_failure;
    }
}
