// What a reload changes, decided without touching anything (pure; README, Running, Reload):
// which configuration sections differ, and what becomes of each queue. Queues are matched by
// spool directory (spool_identity), so a queue that stays keeps its pending entries whatever
// its name; a queue removed earlier and named again is revived with its state.
// Owns: that decision. Does not own: doing it (the daemon applies the plan).
#pragma once

#include "config/config.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace aep {

// A queue the daemon has now: its configuration and whether an earlier reload retired it.
struct running_queue {
    const queue_config* cfg = nullptr;
    bool retired = false;
};

struct reload_plan {
    // The sections that differ, in the order of the configuration: platform, auth, tls, http,
    // retry, queues, log, metrics.
    std::vector<std::string> changed;
    // For each queue of the new configuration, in its order: the running queue it keeps
    // (an index into `running`), or none for a new one.
    struct placement {
        std::optional<std::size_t> running;
        bool revived = false;  // that running queue was retired: it comes back
        // New or revived: its spool must be made usable before anything changes, and it is
        // scanned like at start.
        bool starts() const { return !running || revived; }
    };
    std::vector<placement> queues;
    // Running queues, not retired, that the new configuration no longer has: retired now.
    std::vector<std::size_t> removed;
};

reload_plan plan_reload(const config& current, const std::vector<running_queue>& running,
                        const config& next);

}  // namespace aep
