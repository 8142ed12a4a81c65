#include "io/data_files.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace aep {
namespace {

constexpr int file_flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;

// openat2 beneath dirfd with no symbolic link on the way; -1 with errno, ENOSYS where the
// kernel (or a filter) does not offer it.
int open_beneath(int dirfd, const std::string& relative) {
    open_how how{};
    how.flags = static_cast<std::uint64_t>(file_flags);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    int fd;
    do {
        fd = static_cast<int>(::syscall(SYS_openat2, dirfd, relative.c_str(), &how, sizeof how));
    } while (fd < 0 && errno == EINTR);
    return fd;
}

// The same walk by hand: each directory opened with O_NOFOLLOW | O_DIRECTORY from the one
// before, the last component with O_NOFOLLOW. The paths were checked to hold no '.' or '..'
// component, so nothing climbs.
}  // namespace

int open_beneath_by_components(int dirfd, const std::string& relative) {
    unique_fd at(::dup(dirfd));
    if (!at) return -1;
    std::size_t from = 0;
    while (true) {
        const auto slash = relative.find('/', from);
        const std::string part = relative.substr(from, slash == std::string::npos ? std::string::npos
                                                                                   : slash - from);
        if (part.empty() || part == "." || part == "..") {
            errno = EXDEV;  // as openat2 says for a path out of the directory
            return -1;
        }
        if (slash == std::string::npos) return ::openat(at.get(), part.c_str(), file_flags);
        const int next =
            ::openat(at.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0) {
            // O_NOFOLLOW with O_DIRECTORY says ENOTDIR for a link: told apart, as openat2 does.
            struct stat st {};
            if (errno == ENOTDIR && ::fstatat(at.get(), part.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISLNK(st.st_mode))
                errno = ELOOP;
            return -1;
        }
        at.reset(next);
        from = slash + 1;
    }
}

namespace {

std::string why_not(int err, const std::string& shown) {
    switch (err) {
        case ENOENT:
            return shown + ": no such file";
        case ELOOP:
            return shown + ": a symbolic link is on the way (links are not followed)";
        case EXDEV:
            return shown + ": leads out of the queue's data_dir";
        case ENOTDIR:
            return shown + ": a part of the path is not a directory";
        default:
            return shown + ": cannot open: " + std::strerror(err);
    }
}

}  // namespace

opened_data_file open_data_file(const std::string& data_dir, const std::string& relative) {
    opened_data_file out;
    const std::string shown = "file " + relative;
    unique_fd dir(::open(data_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) {
        out.problem = "the queue's data_dir " + data_dir + ": " + std::strerror(errno);
        return out;
    }
    int fd = open_beneath(dir.get(), relative);
    if (fd < 0 && (errno == ENOSYS || errno == EPERM)) fd = open_beneath_by_components(dir.get(), relative);
    if (fd < 0) {
        out.problem = why_not(errno, shown);
        return out;
    }
    out.fd.reset(fd);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        out.problem = shown + ": " + std::strerror(errno);
    } else if (!S_ISREG(st.st_mode)) {
        out.problem = shown + ": not a regular file";
    } else if (st.st_size == 0) {
        out.problem = shown + ": is empty (0 bytes); AEP takes no empty file";
    }
    if (!out.problem.empty()) {
        out.fd.reset();
        return out;
    }
    // Reads from here on wait for the disk as usual.
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    out.identity = {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
                    static_cast<std::uint64_t>(st.st_size),
                    static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
    return out;
}

opened_data_file reopen_data_file(const std::string& data_dir, const std::string& relative,
                                  const data_identity& claimed) {
    auto out = open_data_file(data_dir, relative);
    if (!out.problem.empty()) {
        out.problem += " (it was there when the entry was claimed)";
        return out;
    }
    const auto& now = out.identity;
    if (now == claimed) return out;
    std::string how;
    if (now.dev != claimed.dev || now.ino != claimed.ino) {
        how = "replaced by another file";
    } else if (now.size != claimed.size) {
        how = "size " + std::to_string(claimed.size) + " -> " + std::to_string(now.size);
    } else {
        how = "modified in place";
    }
    out.problem = "file " + relative + ": changed since the entry was claimed (" + how +
                  "); its producer must not change a file before the entry's record appears";
    out.fd.reset();
    return out;
}

std::size_t read_at(int fd, std::uint64_t offset, char* buf, std::size_t len,
                    const std::string& what) {
    std::size_t got = 0;
    while (got < len) {
        const auto n = ::pread(fd, buf + got, len - got, static_cast<off_t>(offset + got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_spool_errno("cannot read", what, errno);
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    return got;
}

std::string sha256_of(int fd, std::uint64_t size, const std::string& what) {
    sha256 h;
    std::string buf(256 * 1024, '\0');
    for (std::uint64_t at = 0; at < size;) {
        const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - at));
        const auto n = read_at(fd, at, buf.data(), want, what);
        if (n == 0) throw spool_error(what + ": shorter than at the claim (it changed)");
        h.update(buf.data(), n);
        at += n;
    }
    return h.hex();
}

struct sha256::state {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
};

sha256::sha256() : s_(std::make_unique<state>()) {
    if (!s_->ctx || EVP_DigestInit_ex(s_->ctx, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("SHA-256 is not available");
}

sha256::~sha256() { EVP_MD_CTX_free(s_->ctx); }

void sha256::update(const void* data, std::size_t len) {
    EVP_DigestUpdate(s_->ctx, data, len);
}

std::string sha256::hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(s_->ctx, md, &n);
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < n; ++i) {
        out += digits[md[i] >> 4];
        out += digits[md[i] & 15];
    }
    return out;
}

}  // namespace aep
