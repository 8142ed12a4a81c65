// Whether the daemon's user can use a queue's spool as it will at start: every existing part
// of the path a directory, the spool creatable where it does not exist yet, its directories
// readable and writable. What `--check` (and a start) reports before the start would fail.
// Owns: those checks, for this process or for another account (the daemon's user when --check
// runs as root). Does not own: the producer model's modes (spool_access.hpp audits those).
// Blocking (file-system calls); no loop.
#pragma once

#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace aep {

// The account whose rights are checked.
struct spool_user {
    std::string name = "this process";  // for messages
    uid_t uid = 0;
    std::vector<gid_t> gids;  // primary and supplementary
    bool self = true;         // this process: access(2) decides (ACLs included)
};
// The account the packaged unit runs the daemon as (User=aep-batchd) when this process is root
// and that user exists; else this process.
spool_user spool_daemon_user();
spool_user spool_self_user();  // this process

// Problems that would stop a start, one line each naming the path and what to do. `root` is
// the spool's directory.
std::vector<std::string> spool_usability_problems(const std::string& root, const spool_user& who);

// Why `who` could not read an entry's files beneath the queue's data_dir ("" when it can): it
// must be an existing directory that `who` may list and pass through.
std::string data_dir_problem(const std::string& dir, const spool_user& who);

// Where a unit with ProtectSystem=strict lets the daemon write (its ReadWritePaths=, read from
// the installed unit and its drop-ins); nullopt when the unit is not installed.
std::optional<std::vector<std::string>> unit_writable_paths();
// Whether `root` is at or below one of `writable`.
bool path_within(const std::string& root, const std::vector<std::string>& writable);

}  // namespace aep
