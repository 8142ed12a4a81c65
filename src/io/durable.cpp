#include "io/durable.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

namespace aep {

void write_all(int fd, const std::string& data, const std::string& path) {
    std::size_t off = 0;
    while (off < data.size()) {
        const auto n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_spool_errno("cannot write", path, errno);
        }
        off += static_cast<std::size_t>(n);
    }
}

// Temporary files are ".<name>.<pid>.tmp": hidden from every scan, and owned by one process so
// that a second daemon on the same spool never removes a live one at start.
std::string temp_name(const std::string& dir, const std::string& name) {
    return dir + "/." + name + "." + std::to_string(::getpid()) + ".tmp";
}

// Creates (or truncates) path with content and fsyncs it; removes it again on failure.
void write_synced(const std::string& path, const std::string& content) {
    fd_guard f{::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640)};
    if (f.fd < 0) throw_spool_errno("cannot create", path, errno);
    try {
        write_all(f.fd, content, path);
        if (::fsync(f.fd) != 0) throw_spool_errno("cannot sync", path, errno);
    } catch (...) {
        ::unlink(path.c_str());
        throw;
    }
}

// rename(2) that never replaces an existing target. Returns 0 or an errno value.
int rename_noreplace(const std::string& from, const std::string& to) {
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
    return errno;
}

void throw_spool_errno(const std::string& what, const std::string& path, int err) {
    throw spool_error(what + " " + path + ": " + std::strerror(err), err);
}

void fsync_directory(const std::string& dir) {
    fd_guard d{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (d.fd < 0) throw_spool_errno("cannot open directory", dir, errno);
    if (::fsync(d.fd) != 0) throw_spool_errno("cannot sync directory", dir, errno);
}

void sync_file(const std::string& path) {
    fd_guard f{::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)};
    if (f.fd < 0) throw_spool_errno("cannot open", path, errno);
    if (::fsync(f.fd) != 0) throw_spool_errno("cannot sync", path, errno);
}

std::string write_durable(const std::string& dir, const std::string& final_name,
                          const std::string& alt_name, const std::string& content, bool replace,
                          bool sync_now) {
    const auto tmp = temp_name(dir, final_name);
    write_synced(tmp, content);
    std::string target = dir + "/" + final_name;
    int err = 0;
    if (replace) {
        err = ::rename(tmp.c_str(), target.c_str()) == 0 ? 0 : errno;
    } else {
        err = rename_noreplace(tmp, target);
        if (err == EEXIST && !alt_name.empty()) {
            target = dir + "/" + alt_name;
            err = rename_noreplace(tmp, target);
        }
    }
    if (err != 0) {
        ::unlink(tmp.c_str());
        throw_spool_errno("cannot rename into place", target, err);
    }
    if (sync_now) fsync_directory(dir);
    return target;
}

}  // namespace aep
