#include "io/spool_inventory.hpp"

#include "io/spool.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

namespace aep {
namespace {

bool ends_with(const std::string& s, const char* suffix) {
    const std::size_t n = std::strlen(suffix);
    return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// Whether a name in <state>/ is listed: not a temp, not an error record; in done/ a record.
bool listed(const std::string& n, const std::string& state) {
    if (n.empty() || n.front() == '.') return false;
    if (state == "failed") return !ends_with(n, ".error.json");
    if (state == "done") return ends_with(n, ".json");
    return true;
}

std::optional<std::string> read_stamp(const std::string& p) {
    char v[512];
    auto n = ::lgetxattr(p.c_str(), spool_stamp_xattr, v, sizeof v);
    if (n < 0 && errno == ENODATA) n = ::lgetxattr(p.c_str(), spool_legacy_stamp_xattr, v, sizeof v);
    if (n <= 0) return std::nullopt;
    return std::string(v, static_cast<std::size_t>(n));
}

template <class Each>
void each_name(const std::string& dir, const std::string& state, Each each) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) throw_spool_errno("cannot list", dir, errno);
    errno = 0;
    while (const dirent* e = ::readdir(d)) {
        const std::string n = e->d_name;
        if (listed(n, state)) each(n);
    }
    ::closedir(d);
}

}  // namespace

std::vector<spool_item> list_spool(const std::string& root, const char* state, bool stamps) {
    const std::string dir = root + "/" + state;
    std::vector<spool_item> out;
    each_name(dir, state, [&](const std::string& n) {
        spool_item it;
        it.name = n;
        const std::string p = dir + "/" + n;
        struct stat st {};
        if (::lstat(p.c_str(), &st) != 0) return;  // gone meanwhile (taken, filed)
        it.mtime = st.st_mtime;
        it.dev = st.st_dev;
        it.ino = st.st_ino;
        if (stamps) it.stamp = read_stamp(p);
        out.push_back(std::move(it));
    });
    std::sort(out.begin(), out.end(), [](const spool_item& a, const spool_item& b) {
        return a.mtime != b.mtime ? a.mtime < b.mtime : a.name < b.name;
    });
    return out;
}

std::size_t count_spool(const std::string& root, const char* state) {
    std::size_t n = 0;
    each_name(root + "/" + state, state, [&](const std::string&) { ++n; });
    return n;
}

std::optional<std::string> read_spool_file(const std::string& root, const char* state,
                                           const std::string& name, std::size_t max_bytes,
                                           std::string& why) {
    const std::string p = root + "/" + state + "/" + name;
    // O_NONBLOCK: a fifo is not waited on; O_NOFOLLOW: a link is not followed.
    fd_guard f{::open(p.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)};
    if (f.fd < 0) {
        why = errno == ELOOP ? "a symbolic link (not followed)" : std::strerror(errno);
        return std::nullopt;
    }
    struct stat st {};
    if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        why = "not a regular file";
        return std::nullopt;
    }
    std::string out(std::min<std::size_t>(static_cast<std::size_t>(st.st_size), max_bytes), '\0');
    std::size_t got = 0;
    while (got < out.size()) {
        const auto n = ::read(f.fd, out.data() + got, out.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            why = std::strerror(errno);
            return std::nullopt;
        }
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    out.resize(got);
    return out;
}

std::set<std::pair<std::uint64_t, std::uint64_t>> locked_files() {
    // "1: FLOCK  ADVISORY  WRITE 1234 08:01:1234567 0 EOF" (a "->" line is a waiter).
    std::set<std::pair<std::uint64_t, std::uint64_t>> out;
    std::ifstream in("/proc/locks");
    std::string line;
    while (std::getline(in, line)) {
        if (line.find("->") != std::string::npos) continue;
        std::istringstream w(line);
        std::string id, kind, mode, access, pid, where;
        if (!(w >> id >> kind >> mode >> access >> pid >> where)) continue;
        unsigned major = 0, minor = 0;
        unsigned long long ino = 0;
        if (std::sscanf(where.c_str(), "%x:%x:%llu", &major, &minor, &ino) != 3) continue;
        out.emplace(makedev(major, minor), ino);
    }
    return out;
}

spool_runs inspect_spool_runs(const std::string& root,
                              const std::set<std::pair<std::uint64_t, std::uint64_t>>& locked) {
    spool_runs r;
    DIR* d = ::opendir(root.c_str());
    if (!d) throw_spool_errno("cannot list", root, errno);
    while (const dirent* e = ::readdir(d)) {
        const std::string n = e->d_name;
        if (n.rfind(".aep-batchd-run.", 0) != 0) continue;
        struct stat st {};
        if (::fstatat(::dirfd(d), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (locked.count({st.st_dev, st.st_ino})) {
            ++r.held;
        } else {
            ++r.stale;
        }
    }
    ::closedir(d);
    return r;
}

requeue_result requeue_failed(const std::string& root, const std::string& name, bool dry_run) {
    const std::string failed = root + "/failed", incoming = root + "/incoming";
    const std::string from = failed + "/" + name, to = incoming + "/" + name;
    if (name.find('/') != std::string::npos || !listed(name, "failed"))
        return requeue_result::not_found;
    struct stat st {};
    if (::lstat(from.c_str(), &st) != 0) {
        if (errno == ENOENT) return requeue_result::not_found;
        throw_spool_errno("cannot inspect", from, errno);
    }
    if (::lstat(to.c_str(), &st) == 0) return requeue_result::name_taken;
    if (dry_run) {
        if (::access(failed.c_str(), W_OK | X_OK) != 0)
            throw_spool_errno("may not move entries out of", failed, errno);
        if (::access(incoming.c_str(), W_OK | X_OK) != 0)
            throw_spool_errno("may not move entries into", incoming, errno);
        return requeue_result::moved;
    }
    // The stamp keeps its externalId and loses its progress: the retry limits count afresh.
    if (const auto stamp = read_stamp(from)) {
        const std::string id = stamp->substr(0, stamp->find(' '));
        fd_guard f{::open(from.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)};
        if (f.fd < 0) throw_spool_errno("cannot open", from, errno);
        if (id != *stamp && ::fsetxattr(f.fd, spool_stamp_xattr, id.data(), id.size(), 0) != 0)
            throw_spool_errno("cannot clear the progress of", from, errno);
        if (::fsync(f.fd) != 0) throw_spool_errno("cannot sync", from, errno);
    }
    const std::string error = failed + "/" + name + ".error.json";
    std::string kept;  // the error record, put back if the move fails
    {
        std::ifstream in(error, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        kept = ss.str();
    }
    if (::unlink(error.c_str()) != 0 && errno != ENOENT)
        throw_spool_errno("cannot remove", error, errno);
    const int err = rename_noreplace(from, to);
    if (err != 0) {
        if (!kept.empty()) {
            std::ofstream out(error, std::ios::binary);
            out << kept;
        }
        if (err == EEXIST) return requeue_result::name_taken;
        if (err == ENOENT) return requeue_result::not_found;
        throw_spool_errno("cannot move into incoming/", from, err);
    }
    fsync_directory(incoming);
    fsync_directory(failed);
    return requeue_result::moved;
}

}  // namespace aep
