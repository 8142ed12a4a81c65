// One queue's spool directory on disk: layout, claiming, reading entries, durable outcomes.
// Owns: every path inside <spool>/ and the write-temp/fsync/rename/dir-sync discipline.
// Does not own: what an entry means (entry) or when things happen (daemon).
// Blocking: every call does file I/O; the daemon runs them on its file-I/O thread pool. The
// object is immutable after construction, so calls from several threads are safe.
#pragma once

#include "io/spool_access.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace aep {

// An I/O failure with the path it concerns; what() is fit for a log line.
class spool_error : public std::runtime_error {
  public:
    explicit spool_error(const std::string& what, int err = 0)
        : std::runtime_error(what), err_(err) {}
    int error_number() const { return err_; }  // the errno value, 0 when none applies

  private:
    int err_;
};

// A file's identity for as long as it exists: its inode number and birth time (statx). A
// rename, an extended attribute or content written in place keep it; no other file on the same
// file system has both at the same time.
struct file_identity {
    std::uint64_t ino = 0;
    std::int64_t born_ns = 0;  // birth time, nanoseconds since the epoch
};

// The externalId of an entry that brings none: derived from its spool (the identity of its
// incoming/ directory) and its file, "aepb-" and 32 hex digits like a random one. The same file
// gets the same id at every start, whether or not its stamp survived; different files, or the
// same name dropped again, get different ids.
std::string derive_external_id(const file_identity& incoming_dir, const file_identity& file);

class spool {
  public:
    explicit spool(std::string root);

    const std::string& root() const { return root_; }
    std::string path(const char* sub, const std::string& name) const;

    // Creates the spool and its tmp/ incoming/ processing/ done/ failed/ where missing, made for
    // `owner` (spool_access.hpp: the producer model), and checks that they are directories this
    // process may use when it is the owner. Returns warnings. Throws spool_error.
    std::vector<std::string> ensure_layout(const spool_owner& owner) const;

    // incoming/'s own identity (nullopt when the file system records no birth times).
    std::optional<file_identity> incoming_identity() const;

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
    run_start inspect_runs(const std::string& boot_id, std::int64_t now_ns) const;
    // The second half, which only sends relying on it wait for: this run's marker, created,
    // locked and synced, then the stale markers removed. Sets marked (or problem).
    void mark_run(run_start& run, const std::string& boot_id) const;
    run_start begin_run(const std::string& boot_id, std::int64_t now_ns) const;  // both
    // Removes this run's marker; only after everything of this run is durable. Throws.
    void end_run(run_start& run) const;

    // Names in incoming/ or processing/, skipping those that start with '.'; at most `limit`
    // of them (the directory is read only that far).
    std::vector<std::string> list(const char* sub, std::size_t limit = SIZE_MAX) const;

    struct read_result {
        bool ok = false;
        std::string content;  // when ok
        std::string reason;   // when !ok: why the entry cannot be read (not a regular file, ...)
        // The externalId an earlier claim stamped on the file (see stamp_external_id), when
        // ok: that claim may have sent it.
        std::optional<std::string> external_id;
        // The file's identity, when the file system records birth times.
        std::optional<file_identity> identity;
    };
    // Reads processing/<name>: regular files only, never following links or opening fifos or
    // devices, at most max_bytes. Throws spool_error for I/O errors that may pass.
    read_result read_claimed(const std::string& name, std::size_t max_bytes) const;

    // Takes incoming/<name> for this process: the in-place-writer check (a read lease, refused
    // while anyone has the file open for writing), the claim (a rename into processing/ that
    // never replaces anything) and the read, on one open file. `gone` when another process (or
    // a writer) took it first, `busy` when processing/<name> exists (the same name is still in
    // flight), `writing` when it is being written in place (look again shortly). When claimed,
    // `read` holds what read_claimed would return, and the file stays open for
    // stamp_external_id. Throws spool_error on other failures.
    enum class take_status { gone, busy, writing, claimed };
    struct taken {
        take_status status = take_status::gone;
        read_result read;
        std::string read_error;  // claimed, but reading it failed (it stays in processing/)
        int fd = -1;             // the claimed file, open, when read.ok
        taken() = default;
        taken(taken&& o) noexcept;
        taken& operator=(taken&& o) noexcept;
        ~taken();
    };
    taken take(const std::string& name, std::size_t max_bytes) const;

    // Whether a call makes its change durable itself (an fsync of the file it wrote, and of the
    // directory it renamed into), or leaves that to the caller, which groups the syncs of many
    // entries into one.
    enum class sync_mode { now, by_caller };

    // Stamps the externalId on processing/<name> itself, as an extended attribute
    // (user.aep-batchd.external-id): one inode write, no new file. Wherever the file is found
    // later (processing/, or incoming/ again when a power loss undid the claim), read_claimed
    // returns the stamp, so the entry is never sent under another id. The file is fsynced unless
    // by_caller (the caller syncs: before sending a random id, before the record otherwise).
    // Returns false when the file system does not take user extended attributes, or the daemon
    // may not write the file.
    bool stamp_external_id(const std::string& name, const std::string& external_id,
                           sync_mode sync = sync_mode::now) const;
    // The same, on the file `take` left open (by name when it left none).
    bool stamp_external_id(const taken& t, const std::string& name,
                           const std::string& external_id) const;

    // syncfs(2) on the spool's file system: every change made on it before the call began
    // (content, extended attributes, renames, in every directory) is on the disk when it
    // returns. One call and one disk flush serve any number of entries (group commit). Throws
    // spool_error, also for a write-back error since the last call.
    void sync_file_system() const;

    // Replaces the content of processing/<name>, which carries an externalId stamp, with its
    // done record, in place: no file is created or removed. Until the next sync_file_system a
    // crash may leave a torn mix of entry and record; its stamp then tells the next start that
    // a batch was created, to be found through Catalog (never sent again). Returns false when
    // the file cannot be opened for writing (the caller then writes a separate record).
    bool write_record_in_place(const std::string& name, const std::string& record) const;

    // Moves processing/<name>, holding its record, to done/<name>.json (done/<name>.<unique>.json
    // when that name is taken), never replacing anything. The caller syncs. Returns the path.
    std::string file_record(const std::string& name, const std::string& unique) const;

    // Replaces processing/<name> with `content` (temp file, fsync, rename, and a directory sync
    // unless by_caller).
    void rewrite_claimed(const std::string& name, const std::string& content,
                         sync_mode sync = sync_mode::now) const;

    // Writes done/<name>.json (or done/<name>.<unique>.json when that name is taken by an
    // earlier entry of the same name): temp file, fsync, rename, and a directory sync unless
    // by_caller. Returns the path. The entry stays in processing/.
    std::string record_done(const std::string& name, const std::string& unique,
                            const std::string& record, sync_mode sync = sync_mode::now) const;

    // Durably writes failed/<name>.error.json, then moves processing/<name> to failed/<name>
    // (both suffixed with <unique> when the names are taken). Returns the error file's path.
    std::string fail(const std::string& name, const std::string& unique,
                     const std::string& error_record) const;

    // True when done/<name>.json records this external id: a crash struck between recording
    // the result and removing the entry, so the entry needs no second request.
    bool done_record_matches(const std::string& name, const std::string& external_id) const;
    // True when `text` is a done record (a JSON object with a batchId) of `external_id`.
    static bool is_record_of(const std::string& text, const std::string& external_id);
    void remove_claimed(const std::string& name) const;

    // What a polite writer does, for each (name, content): writes tmp/<name> with mode 0660
    // whatever the umask, in the group of incoming/ (with the spool's default ACL: the daemon's
    // to read and write, nobody else's; without ACLs: the producer group's), fsyncs it and renames
    // it into incoming/ (never replacing an entry); then makes the renames durable with one sync.
    // `enqueued` gets each name once renamed. Throws spool_error, after syncing what was enqueued
    // before the failure.
    void enqueue(const std::vector<std::pair<std::string, std::string>>& entries,
                 std::vector<std::string>& enqueued) const;

    // Removes temporary files that a killed process left in processing/, done/ and failed/.
    // Returns how many.
    std::size_t remove_stale_temps() const;

  private:
    // Writes dir/<final_name> atomically and durably; on EEXIST tries dir/<alt_name>.
    std::string write_durable(const std::string& dir, const std::string& final_name,
                              const std::string& alt_name, const std::string& content, bool replace,
                              sync_mode sync) const;

    std::string root_;
};

// Throws spool_error("<what> <path>: <strerror(err)>"), carrying err.
[[noreturn]] void throw_spool_errno(const std::string& what, const std::string& path, int err);

// Durability primitives, exposed for tests and reuse.
void fsync_directory(const std::string& dir);
void sync_file(const std::string& path);  // fsync of a regular file (links not followed)

}  // namespace aep
