// Run markers: which sends of an earlier run on a spool may have left no trace on the disk.
// Owns: the marker and doubt files in a spool's root and their locks. Blocking: file I/O (the
// daemon's file pool). `root` is the spool's root directory.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace aep {

// Which sends of an earlier run may have left no trace (see README, Delivery). A run whose
// externalId stamps are not synced before each send keeps a marker in the spool root,
// .aep-batchd-run.<boot id>.<random>, locked (flock) while the run lives, from start until a
// clean stop has synced everything. A marker nobody holds is a run that ended without that
// stop: of this boot, a crashed process, whose changes the page cache still holds (removed);
// of an earlier boot, a run that ended with its machine, whose stamps and claims may be lost,
// so every entry born before now is in doubt (looked up in Catalog before it is sent). That
// moment is kept in .aep-batchd-doubt (only ever raised). Markers that are held belong to
// live daemons on the same spool, in other containers or on other machines too.
struct run_start {
    std::optional<std::int64_t> doubt_before_ns;  // entries born before this are in doubt
    bool after_lost_boot = false;                 // a marker of an earlier boot was found
    std::vector<std::string> stale;  // markers of ended runs, removed once this one is marked
    bool marked = false;  // this run's marker is durable: stamps need no sync before a send
    std::string problem;  // why not marked
    std::string marker;   // this run's marker (its name in the spool root)
    std::shared_ptr<const int> lock;  // the marker's open file, locked; closed when released
};
// The first half, which start-up waits for (no sync unless a lost boot is found): the doubt
// moment, with .aep-batchd-doubt raised and synced when needed.
run_start inspect_runs(const std::string& root, const std::string& boot_id, std::int64_t now_ns);
// The second half, which only sends relying on it wait for: this run's marker, created,
// locked and synced, then the stale markers removed. Sets marked (or problem).
void mark_run(const std::string& root, run_start& run, const std::string& boot_id);
run_start begin_run(const std::string& root, const std::string& boot_id,
                    std::int64_t now_ns);  // both
// Removes this run's marker; only after everything of this run is durable. Throws.
void end_run(const std::string& root, run_start& run);

}  // namespace aep
