#include "io/spool_access.hpp"

#include "io/spool.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/xattr.h>
#include <unistd.h>

namespace aep {
namespace {

constexpr const char* acl_default_xattr = "system.posix_acl_default";

// The POSIX ACL extended-attribute format (linux/posix_acl_xattr.h): a little-endian version
// word, then entries of tag, permissions and id, sorted by tag, then id.
constexpr std::uint32_t acl_version = 2;
constexpr std::uint16_t acl_user_obj = 0x01, acl_user = 0x02, acl_group_obj = 0x04, acl_mask = 0x10,
                        acl_other = 0x20;
constexpr std::uint32_t acl_no_id = 0xffffffffu;
constexpr std::uint16_t acl_read = 4, acl_write = 2, acl_exec = 1;

void put_le(std::string& out, std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

std::uint64_t get_le(const std::string& in, std::size_t at, int bytes) {
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i)
        v |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[at + i])) << (8 * i);
    return v;
}

std::string user_name(uid_t uid) {
    if (const passwd* pw = ::getpwuid(uid)) return pw->pw_name;
    return std::to_string(uid);
}

std::string group_name(gid_t gid) {
    if (const group* gr = ::getgrgid(gid)) return gr->gr_name;
    return std::to_string(gid);
}

std::string octal(mode_t m) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
    return buf;
}

// Gives the directory just created its owner, group and mode, and (drop directories) the
// default ACL. Under the shipped unit the daemon may neither change a file's group (chown is in
// @privileged) nor set a setgid bit (RestrictSUIDSGID=): a directory gets the producer group by
// inheriting it from a setgid parent (tmpfiles makes /var/spool/aep-batchd so), which `keep_setgid`
// passes on. Only the group and the ACL can be refused without the layout being unusable: those
// are warnings.
void finish_directory(const std::string& p, const spool_owner& o, gid_t group, mode_t mode,
                      bool keep_setgid, bool drop, std::vector<std::string>& warnings) {
    const int fd = ::open(p.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) throw_spool_errno("cannot open the new spool directory", p, errno);
    struct closer {
        int fd;
        ~closer() { ::close(fd); }
    } c{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw_spool_errno("cannot inspect", p, errno);
    if (st.st_uid != o.uid || st.st_gid != group) {
        if (::fchown(fd, st.st_uid == o.uid ? static_cast<uid_t>(-1) : o.uid, group) != 0) {
            if (errno != EPERM) throw_spool_errno("cannot set the owner of", p, errno);
            warnings.push_back(
                p + ": cannot give the directory to group " + group_name(group) +
                "; make its parent setgid in that group, e.g. install -d -m 2710 -o " +
                user_name(o.uid) + " -g " + group_name(group) +
                " PARENT, and let "
                "the daemon create the spool again");
        }
    }
    if (keep_setgid) mode |= st.st_mode & S_ISGID;
    if ((st.st_mode & 07777) != mode && ::fchmod(fd, mode) != 0)
        throw_spool_errno("cannot set the mode of", p, errno);
    if (drop && o.uid != 0) {
        const auto acl = default_acl_for(o.uid);
        if (::fsetxattr(fd, acl_default_xattr, acl.data(), acl.size(), 0) != 0) {
            if (errno != ENOTSUP && errno != EOPNOTSUPP)
                throw_spool_errno("cannot set the ACL of", p, errno);
            warnings.push_back(p +
                               ": the file system takes no ACLs; producers must give their "
                               "entries to group " +
                               group_name(group) +
                               " and make them "
                               "group-readable and -writable (chgrp, chmod g+rw) before the "
                               "rename for the daemon to read them");
        }
    }
}

// mkdir, then the model's attributes when this call created it. The mode is asked of mkdir
// already (cut by the umask; 0027 under the unit), so that a directory that inherited a setgid
// bit rarely needs a chmod. Returns whether it created the directory.
bool make_directory(const std::string& p, const spool_owner& o, gid_t group, mode_t mode,
                    bool keep_setgid, bool drop, std::vector<std::string>& warnings) {
    if (::mkdir(p.c_str(), mode & 0777) != 0) {
        if (errno == EEXIST) return false;
        throw_spool_errno("cannot create spool directory", p, errno);
    }
    finish_directory(p, o, group, mode, keep_setgid, drop, warnings);
    return true;
}

bool is_drop_dir(const char* sub) {
    for (const char* d : spool_drop_directories)
        if (std::strcmp(sub, d) == 0) return true;
    return false;
}

}  // namespace

std::string default_acl_for(uid_t reader) {
    std::string v;
    put_le(v, acl_version, 4);
    const auto entry = [&v](std::uint16_t tag, std::uint16_t perm, std::uint32_t id) {
        put_le(v, tag, 2);
        put_le(v, perm, 2);
        put_le(v, id, 4);
    };
    // The creator keeps what its create mode asks for; the reader gets read and write (the
    // stamp and the record written in place); the owning group (producers) and others nothing.
    entry(acl_user_obj, acl_read | acl_write | acl_exec, acl_no_id);
    entry(acl_user, acl_read | acl_write, reader);
    entry(acl_group_obj, 0, acl_no_id);
    entry(acl_mask, acl_read | acl_write | acl_exec, acl_no_id);
    entry(acl_other, 0, acl_no_id);
    return v;
}

bool acl_grants_read_write(const std::string& v, uid_t reader) {
    if (v.size() < 4 || (v.size() - 4) % 8 != 0 || get_le(v, 0, 4) != acl_version) return false;
    bool user = false;
    std::uint64_t mask = acl_read | acl_write;  // no mask entry: nothing is masked
    for (std::size_t at = 4; at < v.size(); at += 8) {
        const auto tag = get_le(v, at, 2), perm = get_le(v, at + 2, 2), id = get_le(v, at + 4, 4);
        if (tag == acl_user && id == reader)
            user = (perm & (acl_read | acl_write)) == (acl_read | acl_write);
        if (tag == acl_mask) mask = perm;
    }
    return user && (mask & (acl_read | acl_write)) == (acl_read | acl_write);
}

spool_owner daemon_spool_owner() {
    return spool_owner{::geteuid(), ::getegid(), producer_group_id()};
}

spool_owner spool_owner_for(const std::string& root) {
    spool_owner o = daemon_spool_owner();
    if (o.uid != 0) return o;
    std::string p = root;
    struct stat st {};
    while (!p.empty()) {
        const auto slash = p.rfind('/');
        p = slash == 0 ? "/" : p.substr(0, slash == std::string::npos ? 0 : slash);
        if (::stat(p.c_str(), &st) == 0) {
            o.uid = st.st_uid;
            if (const passwd* pw = ::getpwuid(st.st_uid)) o.gid = pw->pw_gid;
            return o;
        }
        if (p == "/") break;
    }
    return o;
}

std::vector<std::string> make_spool_layout(const std::string& root, const spool_owner& o) {
    std::vector<std::string> warnings;
    const bool shared = o.producers.has_value();
    // Like mkdir -p for the spool root itself: each missing parent is created, passable by the
    // group like the spool root.
    const gid_t pass_group = shared ? *o.producers : o.gid;
    const mode_t pass_mode = shared ? spool_pass_mode : 0750;
    for (std::size_t pos = 1; pos < root.size(); ++pos) {
        if (root[pos] == '/')
            make_directory(root.substr(0, pos), o, pass_group, pass_mode, true, false, warnings);
    }
    make_directory(root, o, pass_group, pass_mode, true, false, warnings);
    // processing/ done/ failed/ keep the group they inherit (chown is not the daemon's to call)
    // and give it nothing.
    struct stat made {};
    const gid_t private_group = ::stat(root.c_str(), &made) == 0 ? made.st_gid : o.gid;
    for (const char* sub : spool_directories) {
        const bool drop = shared && is_drop_dir(sub);
        make_directory(root + "/" + sub, o, drop ? *o.producers : (shared ? private_group : o.gid),
                       drop ? spool_drop_mode : (shared ? spool_private_mode : 0750), false, drop,
                       warnings);
    }
    return warnings;
}

std::optional<gid_t> producer_group_id() {
    if (const group* gr = ::getgrnam(producer_group)) return gr->gr_gid;
    return std::nullopt;
}

std::vector<std::string> audit_spool_layout(const std::string& root) {
    return audit_spool_layout(root, producer_group_id());
}

std::vector<std::string> audit_spool_layout(const std::string& root,
                                            std::optional<gid_t> producers) {
    std::vector<std::string> out;
    struct stat rs {};
    if (!producers || ::lstat(root.c_str(), &rs) != 0 || !S_ISDIR(rs.st_mode) || rs.st_uid == 0)
        return out;
    const std::string daemon = user_name(rs.st_uid);
    const std::string group = group_name(*producers);
    const auto has_group = [&](const struct stat& st) { return st.st_gid == *producers; };
    if (!has_group(rs) || (rs.st_mode & S_IXGRP) == 0) {
        out.push_back(root + ": producers (group " + group +
                      ") cannot reach tmp/ and incoming/; fix: chgrp " + group + " " + root +
                      " && chmod " + octal(spool_pass_mode | S_ISGID) + " " + root);
    }
    for (const char* sub : spool_directories) {
        const std::string p = root + "/" + sub;
        struct stat st {};
        if (::lstat(p.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;  // made at start
        const std::string fix_mode = "chgrp " + group + " " + p + " && chmod ";
        if (is_drop_dir(sub)) {
            const bool group_drops =
                has_group(st) && (st.st_mode & (S_IWGRP | S_IXGRP)) == (S_IWGRP | S_IXGRP);
            if (!group_drops) {
                out.push_back(p + ": members of group " + group +
                              " cannot drop entries here; fix: " + fix_mode +
                              octal(spool_drop_mode) + " " + p);
            } else if ((st.st_mode & S_ISVTX) == 0 || (st.st_mode & (S_IROTH | S_IWOTH)) != 0 ||
                       (st.st_mode & S_IRGRP) != 0) {
                out.push_back(p + ": mode " + octal(st.st_mode) +
                              " lets producers list or remove each other's entries, or lets "
                              "anyone drop them; fix: chmod " +
                              octal(spool_drop_mode) + " " + p);
            }
            char acl[512];
            const auto n = ::lgetxattr(p.c_str(), acl_default_xattr, acl, sizeof acl);
            if (n < 0 ? errno != ENOTSUP && errno != EOPNOTSUPP
                      : !acl_grants_read_write(std::string(acl, static_cast<std::size_t>(n)),
                                               rs.st_uid)) {
                out.push_back(p + ": no default ACL for " + daemon +
                              ", so entries written with a strict umask cannot be read by the "
                              "daemon; fix (setfacl is in Debian's acl package): setfacl -d -m u:" +
                              daemon + ":rw,g::-,o::- " + p);
            }
        } else if ((st.st_mode & S_IROTH) != 0 || (has_group(st) && (st.st_mode & S_IRGRP) != 0)) {
            out.push_back(p + ": mode " + octal(st.st_mode) +
                          " lets producers or other users read entries and records; fix: chmod " +
                          octal(spool_private_mode) + " " + p);
        }
    }
    return out;
}

std::string drop_permission_problem(const std::string& root) {
    for (const char* sub : spool_drop_directories) {
        const std::string p = root + "/" + sub;
        if (::faccessat(AT_FDCWD, p.c_str(), W_OK | X_OK, AT_EACCESS) == 0) continue;
        if (errno != EACCES && errno != EPERM) return {};  // not ours to say: the write tells
        const std::string me = user_name(::geteuid());
        if (!producer_group_id()) {
            return "you (" + me + ") may not drop entries into " + root +
                   ": only its owner may, and this system has no group " + producer_group;
        }
        return "you (" + me + ") may not drop entries into " + root +
               ": only root and members "
               "of the group " +
               producer_group + " may. To join it: sudo usermod -aG " + producer_group + " " + me +
               ", then log in again";
    }
    return {};
}

std::string unreadable_entry_reason(const struct stat& st, int err) {
    return std::string("the daemon (user ") + user_name(::geteuid()) +
           ") may not read the entry: " + std::strerror(err) + "; it is owned by " +
           user_name(st.st_uid) + ":" + group_name(st.st_gid) + " with mode " + octal(st.st_mode) +
           ". Drop entries with `aep-batchd enqueue`; or create them in tmp/ with a plain write "
           "(tmp/'s default ACL gives the daemon access whatever the umask; mktemp, install -m "
           "and cp set modes that defeat it); or chgrp " +
           producer_group +
           " and chmod g+rw "
           "them before the rename. Then drop it again (or an operator moves it from failed/ "
           "back to incoming/)";
}

}  // namespace aep
