// Who may feed a spool, and how its directories are made for that (README, Spool protocol;
// docs/SECURITY.md). The model is Postfix's maildrop/ and Maildir's tmp/ -> new/: members of one
// group (producer_group) may create files in tmp/ and rename them into incoming/, and nothing
// more: they cannot list those directories, remove each other's files, or read entries, records
// or anything in processing/ done/ failed/. A default ACL on tmp/ and incoming/ lets the daemon
// read and write every entry whatever the producer's umask.
// Owns: the producer group's name, the owner, group, modes and default ACL of a queue's
// directories, the audit `--check` runs on an existing spool, whether this process may drop
// entries, and the reason recorded for an entry the daemon may not open.
// Blocking (file-system calls); no loop.
#pragma once

#include <optional>
#include <string>
#include <sys/stat.h>
#include <sys/types.h>
#include <vector>

namespace aep {

// The group whose members may drop entries (created by the package through sysusers.d).
inline constexpr const char* producer_group = "aep-batchd-producers";

// A spool's directories, and those of them producers drop into.
inline constexpr const char* spool_directories[] = {"tmp", "incoming", "processing", "done",
                                                    "failed"};
inline constexpr const char* spool_drop_directories[] = {"tmp", "incoming"};

// The accounts a spool's directories are made for.
struct spool_owner {
    uid_t uid = 0;                   // the daemon's user: owns every directory
    gid_t gid = 0;                   // its group: processing/ done/ failed/
    std::optional<gid_t> producers;  // the producer group; nullopt: only `uid` feeds the spool
};

// The daemon's own: its effective ids, and the producer group when it exists.
spool_owner daemon_spool_owner();
// For a spool created by someone other than the daemon (`aep-batchd enqueue` run by root before
// the daemon's first start): the owner of the nearest existing directory above `root`, which is
// the daemon's user below /var/spool/aep-batchd. Anyone but root gets its own ids.
spool_owner spool_owner_for(const std::string& root);

// The modes of the model, with the producer group as the directories' group. The spool root
// (and a parent made on the way) also keeps the setgid bit it inherits from a setgid parent,
// such as /var/spool/aep-batchd: that is how its subdirectories get the group. The sticky bit:
// a producer cannot remove or replace another's file.
inline constexpr mode_t spool_pass_mode = 0710;     // the spool root: the group passes through
inline constexpr mode_t spool_drop_mode = 01730;    // tmp/ incoming/: the group adds, cannot list
inline constexpr mode_t spool_private_mode = 0700;  // processing/ done/ failed/: the daemon's

// Creates whichever of root, tmp/, incoming/, processing/, done/ and failed/ is missing, with
// the model's owner, group, mode and default ACL (without a producer group: 0750, owner only, no
// ACL). An existing directory is never changed. Returns warnings (no ACL support, no right to
// give a directory to the producer group: it was not inherited, and this process may not chown
// to it). Throws spool_error.
std::vector<std::string> make_spool_layout(const std::string& root, const spool_owner& owner);

// What defeats the model in an existing spool, one line per problem naming the directory and
// the command that fixes it. Empty when the spool does not exist yet (it is created right),
// when no producer group exists, or when the spool is owned by root (nothing to share).
std::vector<std::string> audit_spool_layout(const std::string& root,
                                            std::optional<gid_t> producers);
std::vector<std::string> audit_spool_layout(const std::string& root);  // this system's group

// The producer group's id, when this system has the group.
std::optional<gid_t> producer_group_id();

// Whether this process may drop entries into the spool at `root`: empty, or a message for the
// user that names the group and how to join it (`aep-batchd enqueue` exits 77 with it).
std::string drop_permission_problem(const std::string& root);

// The reason recorded in failed/ for an entry the daemon may not open: the error, the file's
// owner and mode (`st` from lstat), and what the producer should do.
std::string unreadable_entry_reason(const struct stat& st, int err);

// The default ACL (system.posix_acl_default) that gives `reader` read and write access to every
// file made in a directory, whatever the creator's umask. Exposed for tests.
std::string default_acl_for(uid_t reader);
// Whether a system.posix_acl_default value grants `reader` read and write access.
bool acl_grants_read_write(const std::string& xattr_value, uid_t reader);

}  // namespace aep
