// The producer model (spool_access): the directories a spool is made with, the audit of an
// existing one, who may drop entries, and what happens to an entry the daemon may not read.
// The permission cases run a child process as an unprivileged user (the suite runs as root).
#include "io/spool_access.hpp"

#include "io/spool.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace aep;

namespace {

constexpr uid_t nobody = 65534;

fs::path fresh_dir(const char* what) {
    auto p = fs::temp_directory_path() /
             ("aep-access-" + std::string(what) + "-" + std::to_string(::getpid()));
    fs::remove_all(p);
    return p;
}

mode_t mode_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
}

gid_t group_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
    return st.st_gid;
}

bool contains(const std::vector<std::string>& lines, const std::string& part) {
    for (const auto& l : lines)
        if (l.find(part) != std::string::npos) return true;
    return false;
}

// Runs `body` in a child process as uid/gid `id` with the supplementary `groups`; returns its
// exit status (body's return value), or -1 when it died.
int as_user(uid_t id, const std::function<int()>& body, std::vector<gid_t> groups = {}) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        if (::setgroups(groups.size(), groups.data()) != 0 || ::setresgid(id, id, id) != 0 ||
            ::setresuid(id, id, id) != 0)
            ::_exit(100);
        ::_exit(body());
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST(SpoolAccess, DefaultAclGrantsTheReaderReadAndWriteOnly) {
    const auto acl = default_acl_for(1234);
    EXPECT_EQ(acl.size(), 4u + 5u * 8u);
    EXPECT_TRUE(acl_grants_read_write(acl, 1234));
    EXPECT_FALSE(acl_grants_read_write(acl, 1235));
    EXPECT_FALSE(acl_grants_read_write("", 1234));
    EXPECT_FALSE(acl_grants_read_write(acl.substr(0, 10), 1234));
    // A mask without write takes the named user's write away.
    auto masked = acl;
    masked[4 + 3 * 8 + 2] = 4;  // the mask entry's permissions: read only
    EXPECT_FALSE(acl_grants_read_write(masked, 1234));
}

TEST(SpoolAccess, LayoutWithAProducerGroupFollowsTheModel) {
    const auto root = fresh_dir("model") / "q";
    spool_owner o = daemon_spool_owner();
    o.producers = ::getegid() + 54321;  // root may give a directory to any group
    const auto warnings = make_spool_layout(root.string(), o);
    EXPECT_EQ(mode_of(root.parent_path()), spool_pass_mode);
    EXPECT_EQ(group_of(root.parent_path()), *o.producers);
    EXPECT_EQ(mode_of(root), spool_pass_mode);
    EXPECT_EQ(group_of(root), *o.producers);
    for (const char* sub : {"tmp", "incoming"}) {
        EXPECT_EQ(mode_of(root / sub), spool_drop_mode) << sub;
        EXPECT_EQ(group_of(root / sub), *o.producers) << sub;
    }
    for (const char* sub : {"processing", "done", "failed"}) {
        EXPECT_EQ(mode_of(root / sub), spool_private_mode) << sub;
    }
    // Run as root the daemon needs no ACL; its audit finds nothing else wrong.
    EXPECT_TRUE(warnings.empty()) << warnings.front();
    EXPECT_TRUE(audit_spool_layout(root.string(), o.producers).empty());
    fs::remove_all(root.parent_path());
}

TEST(SpoolAccess, BelowASetgidParentTheGroupIsInheritedAndNoSetgidIsSet) {
    // /var/spool/aep-batchd is 2710 aep-batchd:aep-batchd-producers: the daemon, which may
    // neither chown nor set a setgid bit under its unit, gets the group by inheritance.
    const auto parent = fresh_dir("setgid");
    const gid_t producers = ::getegid() + 54321;
    fs::create_directories(parent);
    ASSERT_EQ(::chown(parent.c_str(), -1, producers), 0);
    ASSERT_EQ(::chmod(parent.c_str(), 02710), 0);
    spool_owner o = daemon_spool_owner();
    o.producers = producers;
    const auto root = parent / "q";
    const mode_t old = ::umask(027);  // the unit's
    const auto warnings = make_spool_layout(root.string(), o);
    ::umask(old);
    EXPECT_TRUE(warnings.empty());
    EXPECT_EQ(mode_of(root), spool_pass_mode | S_ISGID) << "the root passes the group on";
    for (const char* sub : {"tmp", "incoming", "processing", "done", "failed"})
        EXPECT_EQ(group_of(root / sub), producers) << sub;
    EXPECT_EQ(mode_of(root / "tmp"), spool_drop_mode);
    EXPECT_EQ(mode_of(root / "done"), spool_private_mode);
    EXPECT_TRUE(audit_spool_layout(root.string(), producers).empty());
    fs::remove_all(parent);
}

TEST(SpoolAccess, DropDirectoriesCarryADefaultAclForTheDaemonsUser) {
    const auto root = fresh_dir("acl");
    spool_owner o{nobody, nobody, ::getegid() + 54321};
    const auto warnings = make_spool_layout(root.string(), o);
    for (const char* sub : {"tmp", "incoming"}) {
        char buf[256];
        const auto n =
            ::getxattr((root / sub).c_str(), "system.posix_acl_default", buf, sizeof buf);
        if (n < 0 && (errno == ENOTSUP || errno == EOPNOTSUPP)) {
            EXPECT_TRUE(contains(warnings, "takes no ACLs"));
            GTEST_SKIP() << "the test directory's file system takes no ACLs";
        }
        ASSERT_GT(n, 0) << sub;
        EXPECT_TRUE(acl_grants_read_write(std::string(buf, static_cast<std::size_t>(n)), nobody));
    }
    EXPECT_TRUE(warnings.empty());
    // A file a producer makes in tmp/ with a strict umask is still the daemon's to read.
    const mode_t old = ::umask(077);
    { std::ofstream(root / "tmp" / "e") << "ds1\n"; }
    ::umask(old);
    EXPECT_EQ(as_user(nobody,
                      [&] {
                          std::ifstream in(root / "tmp" / "e");
                          std::string id;
                          return in >> id && id == "ds1" ? 0 : 1;
                      }),
              0);
    fs::remove_all(root);
}

TEST(SpoolAccess, ExistingDirectoriesAreLeftAsTheyAre) {
    const auto root = fresh_dir("existing");
    fs::create_directories(root / "tmp");
    ::chmod((root / "tmp").c_str(), 0755);
    spool_owner o = daemon_spool_owner();
    o.producers = ::getegid() + 54321;
    make_spool_layout(root.string(), o);
    EXPECT_EQ(mode_of(root / "tmp"), 0755u);
    EXPECT_EQ(mode_of(root / "incoming"), spool_drop_mode);
    fs::remove_all(root);
}

TEST(SpoolAccess, WithoutAProducerGroupTheSpoolIsTheOwnersAlone) {
    const auto root = fresh_dir("private");
    make_spool_layout(root.string(), spool_owner{::geteuid(), ::getegid(), std::nullopt});
    for (const char* sub : {"tmp", "incoming", "processing", "done", "failed"})
        EXPECT_EQ(mode_of(root / sub), 0750u) << sub;
    fs::remove_all(root);
}

TEST(SpoolAccess, AuditNamesWhatDefeatsTheModelAndTheFix) {
    const auto root = fresh_dir("audit");
    const gid_t producers = ::getegid() + 54321;
    // An old layout: everything 0750 in the daemon's own group, owned by the daemon (nobody).
    make_spool_layout(root.string(), spool_owner{::geteuid(), ::getegid(), std::nullopt});
    for (const auto& p : fs::recursive_directory_iterator(root))
        ASSERT_EQ(::chown(p.path().c_str(), nobody, -1), 0);
    ASSERT_EQ(::chown(root.c_str(), nobody, -1), 0);
    const auto lines = audit_spool_layout(root.string(), producers);
    const std::string g = std::to_string(producers);
    EXPECT_TRUE(contains(lines, root.string() + ": producers (group " + g + ") cannot reach"));
    EXPECT_TRUE(contains(lines, (root / "tmp").string() + ": members of group " + g +
                                    " cannot drop entries here; fix: chgrp " + g));
    EXPECT_TRUE(contains(lines, (root / "incoming").string() + ": members of group"));
    EXPECT_FALSE(contains(lines, (root / "done").string()));
    // Records readable by everyone.
    ::chmod((root / "done").c_str(), 0755);
    EXPECT_TRUE(
        contains(audit_spool_layout(root.string(), producers),
                 (root / "done").string() + ": mode 0755 lets producers or other users read"));
    // No group on this system, or no spool yet: nothing to say.
    EXPECT_TRUE(audit_spool_layout(root.string(), std::nullopt).empty());
    EXPECT_TRUE(audit_spool_layout((root / "nope").string(), producers).empty());
    fs::remove_all(root);
}

TEST(SpoolAccess, SomeoneOutsideTheGroupIsToldHowToJoinIt) {
    const auto root = fresh_dir("drop");
    spool_owner o = daemon_spool_owner();
    o.producers = ::getegid();
    make_spool_layout(root.string(), o);
    EXPECT_EQ(drop_permission_problem(root.string()), "");  // root may
    EXPECT_EQ(as_user(nobody,
                      [&] {
                          const auto why = drop_permission_problem(root.string());
                          return why.find("may not drop entries into " + root.string()) !=
                                             std::string::npos &&
                                         why.find(producer_group) != std::string::npos
                                     ? 0
                                     : 1;
                      }),
              0);
    fs::remove_all(root);
}

TEST(SpoolAccess, AnEntryTheDaemonMayNotReadIsClaimedWithAReason) {
    const auto root = fresh_dir("unreadable");
    const spool sp(root.string());
    sp.ensure_layout(spool_owner{::geteuid(), ::getegid(), std::nullopt});
    for (const char* sub : {"", "/tmp", "/incoming", "/processing", "/done", "/failed"})
        ASSERT_EQ(::chown((root.string() + sub).c_str(), nobody, nobody), 0);
    {
        std::ofstream(root / "incoming" / "secret") << "ds1\n";
        std::ofstream(root / "incoming" / "later") << "ds2\n";
    }
    ::chmod((root / "incoming" / "secret").c_str(), 0600);  // root's, unreadable to the daemon
    ::chmod((root / "incoming" / "later").c_str(), 0600);
    EXPECT_EQ(as_user(nobody,
                      [&] {
                          auto t = sp.take("secret", 65536);
                          if (t.status != spool::take_status::claimed || t.read.ok) return 1;
                          if (t.read.reason.find("may not read the entry: Permission denied") ==
                                  std::string::npos ||
                              t.read.reason.find("owned by root:root with mode 0600") ==
                                  std::string::npos)
                              return 2;
                          // Found in processing/ at a later start: the same reason, not an error.
                          if (::rename((root / "incoming" / "later").c_str(),
                                       (root / "processing" / "later").c_str()) != 0)
                              return 3;
                          auto r = sp.read_claimed("later", 65536);
                          return !r.ok && r.reason.find("may not read the entry") !=
                                              std::string::npos
                                     ? 0
                                     : 4;
                      }),
              0);
    EXPECT_TRUE(fs::exists(root / "processing" / "secret"));
    fs::remove_all(root);
}

TEST(SpoolAccess, AMemberEnqueuesEntriesTheDaemonCanReadWhateverItsUmask) {
    const auto root = fresh_dir("enqueue");
    const gid_t producers = ::getegid() + 54321;
    spool_owner o{::geteuid(), ::getegid(), producers};
    const spool sp(root.string());
    sp.ensure_layout(o);
    EXPECT_EQ(as_user(nobody,
                      [&] {
                          if (!drop_permission_problem(root.string()).empty()) return 1;
                          ::umask(077);
                          std::vector<std::string> done;
                          sp.enqueue({{"e1", "ds1\n"}, {"e2", "ds2\n"}}, done);
                          return done == std::vector<std::string>{"e1", "e2"} ? 0 : 2;
                      },
                      {producers}),
              0);
    for (const char* name : {"e1", "e2"}) {
        const auto p = root / "incoming" / name;
        EXPECT_EQ(mode_of(p), 0660u) << name;
        EXPECT_EQ(group_of(p), producers) << name << ": the producer group, where no ACL serves";
    }
    EXPECT_TRUE(fs::is_empty(root / "tmp"));
    // Not a member: refused before anything is written.
    EXPECT_EQ(
        as_user(nobody, [&] { return drop_permission_problem(root.string()).empty() ? 1 : 0; }), 0);
    fs::remove_all(root);
}
