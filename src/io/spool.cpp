#include "io/spool.hpp"

#include "io/durable.hpp"
#include "io/random_id.hpp"
#include "io/spool_access.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace aep {
namespace {

[[noreturn]] void throw_errno(const std::string& what, const std::string& path, int err) {
    throw_spool_errno(what, path, err);
}

constexpr const char* external_id_xattr = spool_stamp_xattr;
constexpr const char* legacy_external_id_xattr = spool_legacy_stamp_xattr;

// A file-name-safe form of a caller's unique token (an externalId may contain '/').
std::string safe_suffix(const std::string& unique) {
    std::string out;
    for (char c : unique.substr(0, 128)) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_';
        out += ok ? c : '_';
    }
    return out.empty() ? "x" : out;
}

// The identity a statx result gives; nullopt without a birth time.
std::optional<file_identity> identity_of(const struct statx& sx) {
    if (!(sx.stx_mask & STATX_BTIME)) return std::nullopt;
    return file_identity{sx.stx_ino, static_cast<std::int64_t>(sx.stx_btime.tv_sec) * 1000000000 +
                                         static_cast<std::int64_t>(sx.stx_btime.tv_nsec)};
}

// The identity of an open file or of dirfd/path; nullopt without a birth time.
std::optional<file_identity> identity_at(int dirfd, const char* p, int flags) {
    struct statx sx {};
    if (::statx(dirfd, p, flags, STATX_INO | STATX_BTIME, &sx) != 0) return std::nullopt;
    return identity_of(sx);
}

// fstat and identity_at(fd) in one system call (both on every entry taken). Of `st`, only
// st_mode, st_nlink, st_ino, st_dev and st_size are filled: what take and read_claimed check.
struct fd_status {
    struct stat st {};
    std::optional<file_identity> identity;
};

bool status_of(int fd, fd_status& out) {
    struct statx sx {};
    if (::statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_BTIME, &sx) != 0) return false;
    out.st.st_mode = sx.stx_mode;
    out.st.st_nlink = sx.stx_nlink;
    out.st.st_ino = sx.stx_ino;
    out.st.st_dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
    out.st.st_size = static_cast<off_t>(sx.stx_size);
    out.identity = identity_of(sx);
    return true;
}

}  // namespace

spool::spool(std::string root) : root_(std::move(root)) {
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

std::string spool::path(const char* sub, const std::string& name) const {
    return root_ + "/" + sub + (name.empty() ? "" : "/" + name);
}

std::vector<std::string> spool::ensure_layout(const spool_owner& owner) const {
    auto warnings = make_spool_layout(root_, owner);
    for (const char* sub : spool_directories) {
        const auto p = path(sub, "");
        struct stat st {};
        if (::lstat(p.c_str(), &st) != 0) throw_errno("cannot inspect", p, errno);
        if (!S_ISDIR(st.st_mode)) throw spool_error(p + " exists but is not a directory");
        if (owner.uid == ::geteuid() && ::access(p.c_str(), R_OK | W_OK | X_OK) != 0) {
            throw_errno("no read/write access to", p, errno);
        }
    }
    return warnings;
}

std::optional<file_identity> spool::incoming_identity() const {
    return identity_at(AT_FDCWD, path("incoming", "").c_str(), AT_SYMLINK_NOFOLLOW);
}

std::vector<std::string> spool::list(const char* sub, std::size_t limit) const {
    const auto dir = path(sub, "");
    std::vector<std::string> names;
    DIR* d = ::opendir(dir.c_str());
    if (!d) throw_errno("cannot list", dir, errno);
    while (names.size() < limit) {
        auto* ent = ::readdir(d);
        if (!ent) break;
        if (ent->d_name[0] == '.') continue;  // ., .., and hidden names (writers' scratch)
        names.emplace_back(ent->d_name);
    }
    ::closedir(d);
    return names;
}

namespace {

const char* not_readable_reason(const struct stat& st) {
    if (S_ISLNK(st.st_mode)) return "entry is a symbolic link; only regular files are read";
    if (!S_ISREG(st.st_mode))
        return "entry is not a regular file (fifo, device, socket or directory)";
    if (st.st_nlink > 1)
        return "entry has several hard links; refusing to read a file shared with another path";
    return nullptr;
}

std::string too_large_reason(std::size_t max_bytes) {
    return "entry is larger than " + std::to_string(max_bytes / 1024) + " KiB";
}

// Takes the owner's lock on an open entry (flock, held for as long as the file is open): false
// when another open file holds it, that is another process that owns the entry.
bool lock_owner(int fd, const std::string& p) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return true;
    if (errno == EWOULDBLOCK) return false;
    throw_errno("cannot lock", p, errno);
}

// Reads the open regular file `fd` (its status `fs`) into r, with its externalId stamp.
void read_open(int fd, const fd_status& fs, const std::string& p, std::size_t max_bytes,
               spool::read_result& r) {
    const struct stat& st = fs.st;
    // Sized by the file (one byte more shows a file grown since fstat); grown up to the limit.
    const auto size = static_cast<std::size_t>(st.st_size);
    std::string buf(std::min(size, max_bytes) + 1, '\0');
    std::size_t got = 0;
    while (got <= max_bytes) {
        if (got == buf.size()) buf.resize(std::min(buf.size() * 2, max_bytes + 1));
        const auto want = buf.size() - got;
        const auto n = ::read(fd, buf.data() + got, want);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("cannot read", p, errno);
        }
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
        // A short read that reached the size fstat gave is the end (no writer has it open).
        if (static_cast<std::size_t>(n) < want && got == size) break;
    }
    if (got > max_bytes) {
        r.reason = too_large_reason(max_bytes);
        return;
    }
    buf.resize(got);
    r.ok = true;
    r.content = std::move(buf);
    char stamp[512];
    auto n = ::fgetxattr(fd, external_id_xattr, stamp, sizeof stamp);
    if (n < 0 && errno == ENODATA) n = ::fgetxattr(fd, legacy_external_id_xattr, stamp, sizeof stamp);
    if (n > 0) {
        const std::string_view v(stamp, static_cast<std::size_t>(n));
        const auto sp = v.find(' ');
        r.external_id = std::string(v.substr(0, sp));
        if (sp != std::string_view::npos) r.progress = std::string(v.substr(sp + 1));
    }
    r.identity = fs.identity;
}

}  // namespace

spool::read_result spool::read_claimed(const std::string& name, std::size_t max_bytes) const {
    taken t;
    read_processing(name, max_bytes, false, t);
    return std::move(t.read);
}

spool::taken spool::resume(const std::string& name, std::size_t max_bytes) const {
    taken t;
    t.status = take_status::claimed;
    read_processing(name, max_bytes, true, t);
    return t;
}

// Reads processing/<name> into t.read; with `lock`, keeps it open in t.fd under the owner's lock
// (t.status owned when another holds it, gone when it went meanwhile).
void spool::read_processing(const std::string& name, std::size_t max_bytes, bool lock,
                            taken& t) const {
    const auto p = path("processing", name);
    read_result& r = t.read;
    struct stat before {};
    if (::lstat(p.c_str(), &before) != 0) {
        if (lock && errno == ENOENT) {
            t.status = take_status::gone;
            return;
        }
        throw_errno("cannot inspect", p, errno);
    }
    if (const char* why = not_readable_reason(before)) {
        r.reason = why;
        return;
    }
    if (static_cast<std::size_t>(before.st_size) > max_bytes) {
        r.reason = too_large_reason(max_bytes);
        return;
    }
    unique_fd f{::open(p.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)};
    if (!f) {
        if (errno == ELOOP) {
            r.reason = "entry is a symbolic link; only regular files are read";
            return;
        }
        if (lock && errno == ENOENT) {
            t.status = take_status::gone;
            return;
        }
        // A producer's file the daemon may not read (its mode defeated the spool's ACL) is
        // never left to fail at every look: it goes to failed/ with what to change.
        if (errno == EACCES || errno == EPERM) {
            r.reason = unreadable_entry_reason(before, errno);
            return;
        }
        throw_errno("cannot open", p, errno);
    }
    fd_status fs;
    if (!status_of(f.get(), fs)) throw_errno("cannot inspect", p, errno);
    const struct stat& st = fs.st;
    if (st.st_ino != before.st_ino || st.st_dev != before.st_dev || !S_ISREG(st.st_mode)) {
        r.reason = "entry was replaced while being read";
        return;
    }
    if (lock && !lock_owner(f.get(), p)) {
        t.status = take_status::owned;
        return;
    }
    read_open(f.get(), fs, p, max_bytes, r);
    if (lock && r.ok) t.fd.reset(f.release());
}

spool::taken spool::take(const std::string& name, std::size_t max_bytes) const {
    taken t;
    const auto in = path("incoming", name);
    struct stat before {};
    if (::lstat(in.c_str(), &before) != 0) {
        if (errno == ENOENT) return t;  // gone
        throw_errno("cannot inspect", in, errno);
    }
    unique_fd f;
    fd_status fs;
    const struct stat& st = fs.st;
    if (S_ISREG(before.st_mode) && before.st_nlink == 1) {
        f.reset(::open(in.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
        if (!f) {
            if (errno == ENOENT) return t;
            // A link, or a file the daemon may not read: claimed unopened, and read_claimed
            // says why it cannot be an entry.
            if (errno != ELOOP && errno != EACCES && errno != EPERM)
                throw_errno("cannot open", in, errno);
        } else {
            if (!status_of(f.get(), fs)) throw_errno("cannot inspect", in, errno);
            if (st.st_ino != before.st_ino || st.st_dev != before.st_dev) {
                t.status = take_status::writing;  // replaced meanwhile: look again shortly
                return t;
            }
            // A read lease is refused (EAGAIN) while any process has the file open for writing:
            // written in place and not closed yet, claiming now would read half an entry.
            // Other refusals (not the file's owner, no CAP_LEASE) leave the question open.
            if (::fcntl(f.get(), F_SETLEASE, F_RDLCK) == 0) {
                ::fcntl(f.get(), F_SETLEASE, F_UNLCK);
            } else if (errno == EAGAIN) {
                t.status = take_status::writing;
                return t;
            }
            // Locked before it can be seen in processing/: no other daemon ever resumes it.
            // Another holds it: that one is claiming it this instant.
            if (!lock_owner(f.get(), in)) return t;
        }
    }
    const int err = rename_noreplace(in, path("processing", name));
    if (err == ENOENT) return t;
    if (err == EEXIST) {
        t.status = take_status::busy;
        return t;
    }
    if (err != 0) throw_errno("cannot claim", in, err);
    t.status = take_status::claimed;
    try {
        if (!f) {
            // Not a plain file: read_claimed says why it cannot be an entry.
            t.read = read_claimed(name, max_bytes);
            return t;
        }
        // The claimed file must be the one open here: a writer may have renamed another file
        // over incoming/<name> between the open and the claim. Then it is read afresh.
        const auto claimed = path("processing", name);
        struct stat now {};
        if (::lstat(claimed.c_str(), &now) != 0) throw_errno("cannot inspect", claimed, errno);
        if (now.st_ino != st.st_ino || now.st_dev != st.st_dev) {
            read_processing(name, max_bytes, true, t);
            if (t.status != take_status::claimed) {
                t.read_error = "the file renamed over it meanwhile is held by another process";
                t.status = take_status::claimed;
            }
            return t;
        }
        if (static_cast<std::size_t>(st.st_size) > max_bytes) {
            t.read.reason = too_large_reason(max_bytes);
            return t;
        }
        read_open(f.get(), fs, claimed, max_bytes, t.read);
    } catch (const spool_error& e) {
        t.read = read_result{};
        t.read_error = e.what();
        return t;
    }
    if (t.read.ok) t.fd.reset(f.release());
    return t;
}

bool spool::write_progress(const unique_fd& fd, const std::string& external_id,
                           const std::string& progress) {
    const std::string value = external_id + " " + progress;
    return fd && ::fsetxattr(fd.get(), external_id_xattr, value.data(), value.size(), 0) == 0;
}

bool spool::write_full_progress(const unique_fd& fd, const std::string& progress) {
    return fd && ::fsetxattr(fd.get(), spool_full_progress_xattr, progress.data(), progress.size(),
                             0) == 0;
}

std::optional<std::string> spool::read_full_progress(const unique_fd& fd) {
    if (!fd) return std::nullopt;
    std::string v(1024, '\0');
    auto n = ::fgetxattr(fd.get(), spool_full_progress_xattr, v.data(), v.size());
    if (n < 0 && errno == ERANGE) {
        n = ::fgetxattr(fd.get(), spool_full_progress_xattr, nullptr, 0);
        if (n > 0 && n < 65536) {
            v.resize(static_cast<std::size_t>(n));
            n = ::fgetxattr(fd.get(), spool_full_progress_xattr, v.data(), v.size());
        }
    }
    if (n <= 0) return std::nullopt;
    v.resize(static_cast<std::size_t>(n));
    return v;
}

bool spool::stamp_external_id(const taken& t, const std::string& name,
                              const std::string& external_id) const {
    if (!t.fd) return stamp_external_id(name, external_id, sync_mode::by_caller);
    if (::fsetxattr(t.fd.get(), external_id_xattr, external_id.data(), external_id.size(), 0) != 0) {
        if (errno == ENOTSUP || errno == EPERM || errno == EACCES) return false;
        throw_errno("cannot stamp the externalId on", path("processing", name), errno);
    }
    return true;
}

bool spool::stamp_external_id(const std::string& name, const std::string& external_id,
                              sync_mode sync) const {
    const auto p = path("processing", name);
    fd_guard f{::open(p.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)};
    if (f.fd < 0) throw_errno("cannot open", p, errno);
    if (::fsetxattr(f.fd, external_id_xattr, external_id.data(), external_id.size(), 0) != 0) {
        // tmpfs before 6.6, some NFS; or a file the daemon may not write.
        if (errno == ENOTSUP || errno == EPERM || errno == EACCES) return false;
        throw_errno("cannot stamp the externalId on", p, errno);
    }
    if (sync == sync_mode::now && ::fsync(f.fd) != 0) throw_errno("cannot sync", p, errno);
    return true;
}

void spool::sync_file_system() const {
    fd_guard d{::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (d.fd < 0) throw_errno("cannot open directory", root_, errno);
    if (::syncfs(d.fd) != 0) throw_errno("cannot sync the file system of", root_, errno);
}

bool spool::write_record_in_place(const std::string& name, const std::string& record) const {
    const auto p = path("processing", name);
    fd_guard f{::open(p.c_str(), O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)};
    if (f.fd < 0) {
        if (errno == EACCES || errno == EPERM || errno == EROFS) return false;
        throw_errno("cannot open", p, errno);
    }
    struct stat st {};
    if (::fstat(f.fd, &st) != 0) throw_errno("cannot inspect", p, errno);
    if (!S_ISREG(st.st_mode) || st.st_nlink != 1) return false;
    std::size_t off = 0;
    while (off < record.size()) {
        const auto n =
            ::pwrite(f.fd, record.data() + off, record.size() - off, static_cast<off_t>(off));
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("cannot write", p, errno);
        }
        off += static_cast<std::size_t>(n);
    }
    if (static_cast<std::size_t>(st.st_size) > record.size() &&
        ::ftruncate(f.fd, static_cast<off_t>(record.size())) != 0) {
        throw_errno("cannot truncate", p, errno);
    }
    return true;
}

std::string spool::file_record(const std::string& name, const std::string& unique) const {
    const auto from = path("processing", name);
    std::string target = path("done", name + ".json");
    int err = rename_noreplace(from, target);
    if (err == EEXIST) {
        target = path("done", name + "." + safe_suffix(unique) + ".json");
        err = rename_noreplace(from, target);
    }
    if (err != 0) throw_errno("cannot move the record to", target, err);
    return target;
}

unique_fd spool::rewrite_claimed(const std::string& name, const std::string& content,
                                 sync_mode sync) const {
    const auto dir = path("processing", "");
    const auto tmp = temp_name(dir, name);
    const auto target = dir + "/" + name;
    unique_fd f{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640)};
    if (!f) throw_errno("cannot create", tmp, errno);
    try {
        // The owner's lock is on the new file before it replaces the old one.
        if (!lock_owner(f.get(), tmp)) throw spool_error("cannot lock " + tmp + ": held elsewhere");
        write_all(f.get(), content, tmp);
        if (::fsync(f.get()) != 0) throw_errno("cannot sync", tmp, errno);
        if (::rename(tmp.c_str(), target.c_str()) != 0)
            throw_errno("cannot rename into place", target, errno);
    } catch (...) {
        ::unlink(tmp.c_str());
        throw;
    }
    if (sync == sync_mode::now) fsync_directory(dir);
    return f;
}

std::string spool::record_done(const std::string& name, const std::string& unique,
                               const std::string& record, sync_mode sync) const {
    return write_durable(path("done", ""), name + ".json",
                         name + "." + safe_suffix(unique) + ".json", record, false,
                         sync == sync_mode::now);
}

void spool::remove_claimed(const std::string& name) const {
    const auto p = path("processing", name);
    if (::unlink(p.c_str()) != 0 && errno != ENOENT) throw_errno("cannot remove", p, errno);
}

std::string spool::fail(const std::string& name, const std::string& unique,
                        const std::string& error_record) const {
    const auto dir = path("failed", "");
    std::string entry_target = name;
    // Pick the entry's name in failed/ first so that the error file sits beside it. An error
    // file without its entry is this entry's own, left by a crash between the two steps: it is
    // replaced rather than doubled.
    struct stat st {};
    const bool entry_taken = ::lstat((dir + "/" + name).c_str(), &st) == 0;
    const bool error_taken = ::lstat((dir + "/" + name + ".error.json").c_str(), &st) == 0;
    if (entry_taken) entry_target = name + "." + safe_suffix(unique);
    const auto written = write_durable(dir, entry_target + ".error.json", "", error_record,
                                       !entry_taken && error_taken, true);
    const int err = rename_noreplace(path("processing", name), dir + "/" + entry_target);
    if (err != 0 && err != ENOENT)
        throw_errno("cannot move to failed/", path("processing", name), err);
    fsync_directory(dir);
    return written;
}

void spool::enqueue(const std::vector<std::pair<std::string, std::string>>& entries,
                    std::vector<std::string>& enqueued) const {
    // The last file written stays open: a producer may not open incoming/ to sync it (the
    // directory is not readable to the group), and syncfs(2) on that file makes the renames
    // durable instead.
    fd_guard last{-1};
    const auto sync_renames = [&] {
        if (enqueued.empty()) return;
        const auto dir = path("incoming", "");
        fd_guard d{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
        if (d.fd >= 0 ? ::fsync(d.fd) != 0 : (errno != EACCES || ::syncfs(last.fd) != 0))
            throw_errno("cannot sync", dir, errno);
    };
    // Each entry is given the group of incoming/ (the producer group, of which the daemon is a
    // member): where the file system takes no ACLs, that is how the daemon may read it.
    struct stat dir {};
    const bool group_known = ::stat(path("incoming", "").c_str(), &dir) == 0;
    try {
        for (const auto& [name, content] : entries) {
            const auto tmp = path("tmp", name);
            fd_guard f{
                ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0660)};
            if (f.fd < 0) throw_errno("cannot create", tmp, errno);
            try {
                // A group this user is not in is refused (EPERM); the ACL still serves.
                if (group_known && ::fchown(f.fd, static_cast<uid_t>(-1), dir.st_gid) != 0 &&
                    errno != EPERM)
                    throw_errno("cannot set the group of", tmp, errno);
                // 0660 whatever the umask: with the spool's default ACL that is the daemon's
                // read and write access (its stamp, its record in place) and nobody else's.
                if (::fchmod(f.fd, 0660) != 0) throw_errno("cannot set the mode of", tmp, errno);
                write_all(f.fd, content, tmp);
                if (::fsync(f.fd) != 0) throw_errno("cannot sync", tmp, errno);
                const int err = rename_noreplace(tmp, path("incoming", name));
                if (err != 0)
                    throw_errno("cannot move into incoming/", path("incoming", name), err);
            } catch (...) {
                ::unlink(tmp.c_str());
                throw;
            }
            std::swap(last.fd, f.fd);
            enqueued.push_back(name);
        }
    } catch (...) {
        sync_renames();
        throw;
    }
    sync_renames();
}

std::size_t spool::remove_stale_temps() const {
    std::size_t removed = 0;
    for (const char* sub : {"processing", "done", "failed"}) {
        const auto dir = path(sub, "");
        DIR* d = ::opendir(dir.c_str());
        if (!d) throw_errno("cannot list", dir, errno);
        while (auto* ent = ::readdir(d)) {
            const std::string n = ent->d_name;
            if (n.size() < 6 || n.front() != '.' || n.compare(n.size() - 4, 4, ".tmp") != 0)
                continue;
            const auto dot = n.rfind('.', n.size() - 5);
            if (dot == std::string::npos) continue;
            const long pid = std::strtol(n.c_str() + dot + 1, nullptr, 10);
            // A temp file of a live process (another daemon on this spool) is not stale.
            if (pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM)) continue;
            if (::unlinkat(::dirfd(d), n.c_str(), 0) == 0) ++removed;
        }
        ::closedir(d);
    }
    return removed;
}

std::vector<std::string> spool::done_records(const std::string& name,
                                             const std::string& unique) const {
    std::vector<std::string> texts;
    for (const auto& candidate : {name + ".json", name + "." + safe_suffix(unique) + ".json"}) {
        const auto p = path("done", candidate);
        std::FILE* f = std::fopen(p.c_str(), "rbe");
        if (!f) continue;
        std::string text;
        char buf[4096];
        std::size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0 && text.size() < (1u << 20)) {
            text.append(buf, n);
        }
        std::fclose(f);
        texts.push_back(std::move(text));
    }
    return texts;
}

}  // namespace aep
