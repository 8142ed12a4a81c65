// What a spool holds, as the operator's commands see it (`aep-batchd status`, `list`, `show`,
// `requeue`), from outside the daemon and without disturbing it: directory listings, stamps and
// locks read without opening entries for writing or locking anything, and the one move an
// operator makes, failed/ back into incoming/.
// Owns: those reads and that move. Does not own: what an entry or record means (app/ reads
// them with aep/), the daemon's own moves (spool.hpp).
// Blocking (file-system calls); no loop. Throws spool_error (EACCES when the caller may not
// read the spool: only root and the daemon's user may).
#pragma once

#include "io/durable.hpp"

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace aep {

// One file of a spool directory, as listed.
struct spool_item {
    std::string name;        // its name in the directory
    std::int64_t mtime = 0;  // its last change, Unix seconds
    std::uint64_t dev = 0, ino = 0;
    std::optional<std::string> stamp;  // the externalId stamp (user.aepb), with its progress
};

// The entries of <root>/<state>/ (incoming, processing, failed) or the records of done/ (their
// .json files), oldest first; temporary files (dot files) and failed/'s .error.json are not
// listed. With `stamps`, each item's stamp is read (lgetxattr: no file is opened).
std::vector<spool_item> list_spool(const std::string& root, const char* state, bool stamps);
// How many entries list_spool would list, without their details.
std::size_t count_spool(const std::string& root, const char* state);

// Up to max_bytes of <root>/<state>/<name>: regular files only, links not followed, fifos and
// devices never opened for long. nullopt (with why) when it is not such a file.
std::optional<std::string> read_spool_file(const std::string& root, const char* state,
                                           const std::string& name, std::size_t max_bytes,
                                           std::string& why);

// Files locked with flock or fcntl by any process of this machine (from /proc/locks): a run
// marker or an entry in processing/ that a live daemon holds. (device, inode) pairs.
std::set<std::pair<std::uint64_t, std::uint64_t>> locked_files();

// The run markers in the spool root (io/run_marker.hpp), those held by a live daemon first.
struct spool_runs {
    std::size_t held = 0;     // live daemons on the spool (on this machine)
    std::size_t stale = 0;    // markers of runs that ended without a clean stop
};
spool_runs inspect_spool_runs(const std::string& root,
                              const std::set<std::pair<std::uint64_t, std::uint64_t>>& locked);

// Moves failed/<name> back into incoming/<name>: the progress in its stamp is cleared (its
// externalId kept, so the daemon asks Catalog before creating), the file synced, its error
// record removed, then the rename (never replacing an entry) and both directories synced.
// `dry_run` only checks. A crash between the error record's removal and the rename leaves the
// entry in failed/ without its record, never an entry in two places.
enum class requeue_result { moved, not_found, name_taken };
requeue_result requeue_failed(const std::string& root, const std::string& name, bool dry_run);

}  // namespace aep
