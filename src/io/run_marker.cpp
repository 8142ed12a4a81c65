#include "io/run_marker.hpp"

#include "io/durable.hpp"
#include "io/random_id.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace aep {

namespace {
constexpr const char* run_marker_prefix = ".aep-batchd-run.";
constexpr const char* doubt_file = ".aep-batchd-doubt";

// True when someone holds the marker's lock (a live run), false when nobody does.
bool marker_held(const std::string& path) {
    fd_guard f{::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)};
    if (f.fd < 0) return true;  // gone meanwhile, or not ours to judge: leave it
    if (::flock(f.fd, LOCK_EX | LOCK_NB) == 0) return false;
    return errno == EWOULDBLOCK;
}
}  // namespace

run_start inspect_runs(const std::string& root, const std::string& boot_id, std::int64_t now_ns) {
    run_start r;
    const std::string doubt = root + "/" + doubt_file;
    if (std::FILE* f = std::fopen(doubt.c_str(), "rbe")) {
        char buf[32] = {};
        const auto n = std::fread(buf, 1, sizeof buf - 1, f);
        std::fclose(f);
        char* end = nullptr;
        errno = 0;
        const long long v = std::strtoll(buf, &end, 10);
        // Unreadable: every entry present is in doubt, the safe side.
        r.doubt_before_ns = (n > 0 && errno == 0 && end != buf && v > 0) ? v : now_ns;
    } else if (errno != ENOENT) {
        r.doubt_before_ns = now_ns;
    }
    std::vector<std::string> lost;
    DIR* d = ::opendir(root.c_str());
    if (!d) throw_spool_errno("cannot list", root, errno);
    while (auto* ent = ::readdir(d)) {
        const std::string n = ent->d_name;
        if (n.rfind(run_marker_prefix, 0) != 0 || n.ends_with(".tmp")) continue;
        if (marker_held(root + "/" + n)) continue;  // a live run, here or elsewhere
        const std::string rest = n.substr(std::strlen(run_marker_prefix));
        const auto dot = rest.rfind('.');
        // Of this boot, the page cache holds what that run did; of another, it may be lost.
        if (dot == std::string::npos || rest.substr(0, dot) != boot_id) {
            lost.push_back(n);
        } else {
            r.stale.push_back(n);
        }
    }
    ::closedir(d);
    if (lost.empty()) return r;
    r.after_lost_boot = true;
    r.doubt_before_ns = std::max(r.doubt_before_ns.value_or(now_ns), now_ns);
    try {
        write_durable(root, doubt_file, "", std::to_string(*r.doubt_before_ns), true, true);
        // Noted: those markers may go. (If the note cannot be written, they stay, and the
        // next start finds them again.)
        r.stale.insert(r.stale.end(), lost.begin(), lost.end());
    } catch (const spool_error&) {
    }
    return r;
}

void mark_run(const std::string& root, run_start& r, const std::string& boot_id) {
    std::string tmp;
    try {
        // Written and locked under a temporary name, so that no other start ever sees it
        // unlocked.
        const std::string marker = run_marker_prefix + boot_id + "." + random_hex(8);
        const std::string p = root + "/" + marker;
        tmp = p + ".tmp";
        write_synced(tmp, boot_id + "\n");
        const int fd = ::open(tmp.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) throw_spool_errno("cannot open", tmp, errno);
        r.lock = std::shared_ptr<const int>(new int(fd), [](const int* f) {
            ::close(*f);
            delete f;
        });
        if (::flock(fd, LOCK_EX | LOCK_NB) != 0) throw_spool_errno("cannot lock", tmp, errno);
        if (::rename(tmp.c_str(), p.c_str()) != 0)
            throw_spool_errno("cannot rename into place", p, errno);
        r.marker = marker;
        for (const auto& n : r.stale) ::unlink((root + "/" + n).c_str());
        r.stale.clear();
        fsync_directory(root);
        r.marked = true;
    } catch (const spool_error& e) {
        r.problem = e.what();
        r.lock.reset();
        if (!tmp.empty()) ::unlink(tmp.c_str());
    }
}

run_start begin_run(const std::string& root, const std::string& boot_id, std::int64_t now_ns) {
    run_start r = inspect_runs(root, boot_id, now_ns);
    mark_run(root, r, boot_id);
    return r;
}

void end_run(const std::string& root, run_start& run) {
    if (run.marker.empty()) return;
    const std::string p = root + "/" + run.marker;
    if (::unlink(p.c_str()) != 0 && errno != ENOENT) throw_spool_errno("cannot remove", p, errno);
    fsync_directory(root);
    run.lock.reset();
    run.marker.clear();
}

}  // namespace aep
