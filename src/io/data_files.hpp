// An entry's data files, opened beneath the queue's data_dir and nowhere else: a path that
// climbs out, goes through a symbolic link or names anything but a non-empty regular file is
// refused without reading a byte. And the identity that tells whether a file changed between
// its claim and its upload (the producer's contract: unchanged until the entry's record).
// Owns: openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) or, where the kernel or a seccomp filter
// refuses it, the same walk component by component; the identity; reading a range; SHA-256.
// Blocking (file-system calls): the daemon runs them on its file-I/O pool.
#pragma once

#include "io/durable.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace aep {

// What tells a file from the same file changed: device, inode, size and modification time.
struct data_identity {
    std::uint64_t dev = 0, ino = 0, size = 0;
    std::int64_t mtime_ns = 0;
    bool operator==(const data_identity&) const = default;
};

struct opened_data_file {
    unique_fd fd;             // open for reading, when `problem` is empty
    data_identity identity;
    std::string problem;      // why the file may not be read (for failed/), naming it
};

// Opens `relative` (checked by aep/entry_files first) beneath the directory `data_dir`.
// Refused: a missing file, a symbolic link anywhere on the way, a path out of data_dir, a fifo,
// device, socket or directory, an empty file. The fifo is never waited on (O_NONBLOCK).
opened_data_file open_data_file(const std::string& data_dir, const std::string& relative);

// Opens it again and compares it with the identity taken at the claim: the problem says how
// it changed ("changed since the entry was claimed: size 10 -> 12").
opened_data_file reopen_data_file(const std::string& data_dir, const std::string& relative,
                                  const data_identity& claimed);

// The walk used where openat2 is refused, component by component (exposed for tests): an open
// file descriptor or -1 with errno (ELOOP for a link, EXDEV for a way out).
int open_beneath_by_components(int dirfd, const std::string& relative);

// Reads up to `len` bytes at `offset` (pread, EINTR retried); fewer only at the end of the
// file. Throws spool_error naming `what`.
std::size_t read_at(int fd, std::uint64_t offset, char* buf, std::size_t len,
                    const std::string& what);

// The SHA-256 of bytes [0, size) of the open file, read in pieces; throws spool_error naming
// `what` when the file is shorter than that now.
std::string sha256_of(int fd, std::uint64_t size, const std::string& what);

// SHA-256, fed in pieces.
class sha256 {
  public:
    sha256();
    ~sha256();
    sha256(const sha256&) = delete;
    sha256& operator=(const sha256&) = delete;
    void update(const void* data, std::size_t len);
    std::string hex();  // lower case; the digest is final after this

  private:
    struct state;
    std::unique_ptr<state> s_;
};

}  // namespace aep
