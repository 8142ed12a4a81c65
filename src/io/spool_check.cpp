#include "io/spool_check.hpp"

#include "io/spool_access.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <grp.h>
#include <pwd.h>
#include <sstream>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

namespace aep {
namespace {

// Whether `who` may `want` (R_OK, W_OK, X_OK bits) on the existing directory `p`.
bool may(const std::string& p, const struct stat& st, const spool_user& who, int want) {
    if (who.self) return ::access(p.c_str(), want) == 0;
    if (who.uid == 0) return true;
    mode_t bits = st.st_mode & 07;
    if (st.st_uid == who.uid) {
        bits = (st.st_mode >> 6) & 07;
    } else if (std::find(who.gids.begin(), who.gids.end(), st.st_gid) != who.gids.end()) {
        bits = (st.st_mode >> 3) & 07;
    }
    if ((bits & static_cast<mode_t>(want)) == static_cast<mode_t>(want)) return true;
    // An access ACL may grant what the bits do not: not judged here (the start will tell).
    return ::lgetxattr(p.c_str(), "system.posix_acl_access", nullptr, 0) > 0;
}

}  // namespace

spool_user spool_daemon_user() {
    spool_user u;
    u.uid = ::geteuid();
    if (u.uid == 0) {
        if (const passwd* pw = ::getpwnam("aep-batchd")) {
            u.self = false;
            u.name = pw->pw_name;
            u.uid = pw->pw_uid;
            int n = 64;
            u.gids.resize(64);
            if (::getgrouplist(pw->pw_name, pw->pw_gid, u.gids.data(), &n) < 0) {
                u.gids.resize(static_cast<std::size_t>(n));
                ::getgrouplist(pw->pw_name, pw->pw_gid, u.gids.data(), &n);
            }
            u.gids.resize(static_cast<std::size_t>(std::max(n, 0)));
            return u;
        }
    }
    return spool_self_user();
}

spool_user spool_self_user() {
    spool_user u;
    u.uid = ::geteuid();
    const passwd* pw = ::getpwuid(u.uid);
    u.name = pw ? pw->pw_name : "uid " + std::to_string(u.uid);
    return u;
}

std::vector<std::string> spool_usability_problems(const std::string& root, const spool_user& who) {
    std::vector<std::string> out;
    // Every existing part of the path must be a directory the user may pass through.
    std::string existing = "/";
    std::size_t at = 1;
    while (at <= root.size()) {
        const auto next = std::min(root.find('/', at), root.size());
        const std::string p = root.substr(0, next);
        at = next + 1;
        if (p.size() <= 1 || p.back() == '/') continue;
        struct stat st {};
        if (::stat(p.c_str(), &st) != 0) {
            if (errno == ENOENT) break;
            out.push_back(p + ": " + std::strerror(errno));
            return out;
        }
        if (!S_ISDIR(st.st_mode)) {
            out.push_back(p + " is not a directory, so the spool " + root +
                          " cannot be made below it: choose another path");
            return out;
        }
        if (!may(p, st, who, X_OK)) {
            out.push_back(p + ": " + who.name + " may not pass through it (mode " +
                          std::to_string((st.st_mode >> 6) & 7) +
                          std::to_string((st.st_mode >> 3) & 7) + std::to_string(st.st_mode & 7) +
                          "); the daemon could not reach its spool " + root);
            return out;
        }
        existing = p;
    }
    struct stat st {};
    if (::stat(root.c_str(), &st) != 0) {
        // Made at start, by the daemon: in the nearest directory that exists.
        struct stat ps {};
        if (who.self && ::access(existing.c_str(), W_OK | X_OK) != 0 && errno == EROFS) {
            out.push_back(root + " does not exist, and " + existing +
                          " is read-only here (under the unit, ProtectSystem=strict leaves only "
                          "its ReadWritePaths= writable): create the spool, or add its parent "
                          "with `systemctl edit aep-batchd` ([Service] ReadWritePaths=" +
                          existing + ")");
        } else if (::stat(existing.c_str(), &ps) == 0 && !may(existing, ps, who, W_OK | X_OK)) {
            out.push_back(root + " does not exist, and " + who.name + " may not create it in " +
                          existing + ": create it (install -d -o " + who.name + " " + root +
                          ") or choose another path");
        }
        return out;
    }
    for (const char* sub : spool_directories) {
        const std::string p = root + "/" + sub;
        struct stat ss {};
        if (::lstat(p.c_str(), &ss) != 0) {
            if (errno == ENOENT) {
                if (!may(root, st, who, W_OK | X_OK))
                    out.push_back(root + ": " + who.name + " may not create " + sub +
                                  "/ in it; fix: chown " + who.name + " " + root);
                continue;
            }
            out.push_back(p + ": " + std::strerror(errno));
            continue;
        }
        if (!S_ISDIR(ss.st_mode)) {
            out.push_back(p + " is not a directory: remove it (the daemon makes " + sub + "/)");
        } else if (!may(p, ss, who, R_OK | W_OK | X_OK)) {
            out.push_back(p + ": " + who.name + " may not read and write it; fix: chown " +
                          who.name + " " + p);
        }
    }
    return out;
}

std::string data_dir_problem(const std::string& dir, const spool_user& who) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) return dir + ": " + std::strerror(errno);
    if (!S_ISDIR(st.st_mode)) return dir + " is not a directory";
    if (!may(dir, st, who, R_OK | X_OK)) {
        return dir + ": " + who.name +
               " may not read it; give the daemon's group read access (chgrp aep-batchd and "
               "chmod g+rx, or an ACL), or choose another directory";
    }
    if (dir == "/home" || dir.rfind("/home/", 0) == 0) {
        return dir + " is below /home, which the packaged unit hides (ProtectHome=yes): use "
                     "another directory, or `systemctl edit aep-batchd` with ProtectHome=read-only";
    }
    return {};
}

std::optional<std::vector<std::string>> unit_writable_paths() {
    std::vector<std::string> files;
    for (const char* unit : {"/etc/systemd/system/aep-batchd.service",
                             "/lib/systemd/system/aep-batchd.service",
                             "/usr/lib/systemd/system/aep-batchd.service"}) {
        if (::access(unit, R_OK) == 0) {
            files.push_back(unit);
            break;
        }
    }
    if (files.empty()) return std::nullopt;
    for (const char* dir : {"/usr/lib/systemd/system/aep-batchd.service.d",
                            "/lib/systemd/system/aep-batchd.service.d",
                            "/etc/systemd/system/aep-batchd.service.d",
                            "/run/systemd/system/aep-batchd.service.d"}) {
        std::vector<std::string> confs;
        if (DIR* d = ::opendir(dir)) {
            while (const dirent* e = ::readdir(d)) {
                const std::string n = e->d_name;
                if (n.size() > 5 && n.compare(n.size() - 5, 5, ".conf") == 0)
                    confs.push_back(std::string(dir) + "/" + n);
            }
            ::closedir(d);
        }
        std::sort(confs.begin(), confs.end());
        files.insert(files.end(), confs.begin(), confs.end());
    }
    std::vector<std::string> out;
    for (const auto& f : files) {
        std::ifstream in(f);
        std::string line;
        while (std::getline(in, line)) {
            if (line.rfind("ReadWritePaths=", 0) != 0) continue;
            std::istringstream words(line.substr(15));
            std::string w;
            bool any = false;
            while (words >> w) {
                any = true;
                if (w.front() == '-' || w.front() == '+') w.erase(0, 1);  // optional paths
                out.push_back(w);
            }
            if (!any) out.clear();  // an empty assignment resets the list
        }
    }
    return out;
}

bool path_within(const std::string& root, const std::vector<std::string>& writable) {
    for (auto w : writable) {
        while (w.size() > 1 && w.back() == '/') w.pop_back();
        if (w == "/" || root == w || root.rfind(w + "/", 0) == 0) return true;
    }
    return false;
}

}  // namespace aep
