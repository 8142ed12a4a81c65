// One queue's spool directory on disk: layout, claiming, reading entries, durable outcomes.
// Owns: every path inside <spool>/ and the entry's life there (claim, read, stamp, record, file);
// the durable-write primitives are io/durable.hpp, the run markers io/run_marker.hpp.
// Does not own: what an entry means (aep/) or when things happen (pipeline/).
// Blocking: every call does file I/O; the daemon runs them on its file-I/O thread pool. The
// object is immutable after construction, so calls from several threads are safe.
#pragma once

#include "io/durable.hpp"
#include "io/spool_access.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace aep {

// The stamp: "<externalId>" or "<externalId> <progress>". A short name, so that the stamp and
// its progress fit in an ext4 inode's own extended-attribute space (see aep/progress.hpp).
inline constexpr const char* spool_stamp_xattr = "user.aepb";
// Where version 0.1 stamped the externalId alone; still read, so that an upgrade finds its
// entries' ids.
inline constexpr const char* spool_legacy_stamp_xattr = "user.aep-batchd.external-id";
inline constexpr const char* spool_full_progress_xattr = "user.aepb.full";

// A file's identity for as long as it exists: its inode number and birth time (statx). A
// rename, an extended attribute or content written in place keep it; no other file on the same
// file system has both at the same time.
struct file_identity {
    std::uint64_t ino = 0;
    std::int64_t born_ns = 0;  // birth time, nanoseconds since the epoch
};

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
        // The entry's progress an earlier claim wrote (see write_progress), when stamped.
        std::optional<std::string> progress;
    };
    // Reads processing/<name>: regular files only, never following links or opening fifos or
    // devices, at most max_bytes. Throws spool_error for I/O errors that may pass.
    read_result read_claimed(const std::string& name, std::size_t max_bytes) const;

    // Takes incoming/<name> for this process: the in-place-writer check (a read lease, refused
    // while anyone has the file open for writing), the owner's lock (flock: see resume), the
    // claim (a rename into processing/ that never replaces anything) and the read, on one open
    // file. `gone` when another process (or a writer) took it first, `busy` when
    // processing/<name> exists (the same name is still in flight), `writing` when it is being
    // written in place (look again shortly). When claimed and read, `fd` is the file, open and
    // locked: whoever holds it owns the entry, until it leaves processing/. Throws spool_error
    // on other failures.
    enum class take_status { gone, busy, writing, claimed, owned };
    struct taken {
        take_status status = take_status::gone;
        read_result read;
        std::string read_error;  // claimed, but reading it failed (it stays in processing/)
        unique_fd fd;            // the claimed file, open and locked, when read.ok
    };
    taken take(const std::string& name, std::size_t max_bytes) const;
    // Takes processing/<name>, left there by an earlier run, for this process: `owned` while a
    // live process holds its lock (it is that process's, whenever either started), `gone` when
    // it has left processing/ meanwhile; else claimed, read and locked as by take.
    taken resume(const std::string& name, std::size_t max_bytes) const;

    // Whether a call makes its change durable itself (an fsync of the file it wrote, and of the
    // directory it renamed into), or leaves that to the caller, which groups the syncs of many
    // entries into one.
    enum class sync_mode { now, by_caller };

    // Stamps the externalId on processing/<name> itself, as an extended attribute
    // (user.aepb; user.aep-batchd.external-id, where version 0.1 put it, is read too): one
    // inode write, no new file. Wherever the file is found
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

    // Writes the entry's progress (aep/progress.hpp) on its open file, in its stamp after the
    // externalId: one inode change in the page cache, no sync (it reaches the disk with the
    // next one, or is lost only with the machine), and no block of its own. False when the file
    // system takes no user extended attributes or fd is not open.
    static bool write_progress(const unique_fd& fd, const std::string& external_id,
                               const std::string& progress);
    // A full entry's progress (aep/progress.hpp: its batch, files, COMPLETE) in an attribute of
    // its own, user.aepb.full, on its open file; read back by read_full_progress.
    static bool write_full_progress(const unique_fd& fd, const std::string& progress);
    static std::optional<std::string> read_full_progress(const unique_fd& fd);

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
    // unless by_caller). Returns the new file, open and under the owner's lock (see take).
    unique_fd rewrite_claimed(const std::string& name, const std::string& content,
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

    // The texts of done/<name>.json and done/<name>.<unique>.json, those that exist (at most
    // 1 MiB each): where an earlier run may have recorded the entry (aep/records.hpp tells).
    std::vector<std::string> done_records(const std::string& name, const std::string& unique) const;
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
    void read_processing(const std::string& name, std::size_t max_bytes, bool lock,
                         taken& t) const;

    std::string root_;
};

}  // namespace aep
