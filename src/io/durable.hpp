// The durability primitives every durable write in the spool is made of: write and fsync,
// rename that never replaces, directory fsync, the write-temp/fsync/rename/dir-sync sequence,
// and the error they throw.
// Owns: the exact system-call order of a durable write. Blocking: file I/O on the caller's
// thread (the daemon's file pool).
#pragma once

#include <stdexcept>
#include <string>
#include <unistd.h>

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

// Throws spool_error("<what> <path>: <strerror(err)>"), carrying err.
[[noreturn]] void throw_spool_errno(const std::string& what, const std::string& path, int err);

void fsync_directory(const std::string& dir);
void sync_file(const std::string& path);  // fsync of a regular file (links not followed)

// Closes its descriptor at the end of its scope.
struct fd_guard {
    int fd;
    ~fd_guard() {
        if (fd >= 0) ::close(fd);
    }
};

// An open file descriptor owned by one object at a time; closed with it.
class unique_fd {
  public:
    unique_fd() = default;
    explicit unique_fd(int fd) : fd_(fd) {}
    unique_fd(unique_fd&& o) noexcept : fd_(o.release()) {}
    unique_fd& operator=(unique_fd&& o) noexcept {
        if (this != &o) reset(o.release());
        return *this;
    }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() { reset(); }

    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    int release() {
        const int fd = fd_;
        fd_ = -1;
        return fd;
    }
    void reset(int fd = -1) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

  private:
    int fd_ = -1;
};

// write(2) until all of `data` is written (EINTR retried). Throws spool_error naming `path`.
void write_all(int fd, const std::string& data, const std::string& path);

// Temporary files are ".<name>.<pid>.tmp": hidden from every scan, and owned by one process so
// that a second daemon on the same spool never removes a live one at start.
std::string temp_name(const std::string& dir, const std::string& name);

// Creates (or truncates) path with content and fsyncs it; removes it again on failure.
void write_synced(const std::string& path, const std::string& content);

// rename(2) that never replaces an existing target. Returns 0 or an errno value.
int rename_noreplace(const std::string& from, const std::string& to);

// Writes dir/<final_name> atomically and durably: a temp file written and fsynced, renamed into
// place (replacing only when `replace`; on EEXIST dir/<alt_name> when given), and the directory
// fsynced when `sync_now` (else the caller syncs). Returns the path written.
std::string write_durable(const std::string& dir, const std::string& final_name,
                          const std::string& alt_name, const std::string& content, bool replace,
                          bool sync_now);

}  // namespace aep
