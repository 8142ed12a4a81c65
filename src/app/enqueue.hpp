// `aep-batchd enqueue`: the supported way for other programs to feed a spool. Validates every
// dataset id first (all or nothing), then drops each as its own entry: written in tmp/, synced,
// renamed into incoming/. Owns: entry naming and the command's exit codes. Blocking; no loop.
#pragma once

#include "config/config.hpp"

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace aep {

// Returns the process exit code: 0 all enqueued (one entry name per line on `out`), 64 bad
// usage (unknown or ambiguous queue), 65 an invalid id (nothing enqueued), 77 this user may not
// drop entries into the spool (nothing enqueued; the message names the producer group), 73 a
// spool write failed (the entries already written are listed on `out`).
int run_enqueue(const config& cfg, const std::optional<std::string>& queue,
                const std::vector<std::string>& ids, std::ostream& out, std::ostream& err);

// A fresh entry name: UTC time, process id, a counter and random bits, so names sort by
// arrival and never collide across processes.
std::string new_entry_name();

}  // namespace aep
