#include "io/spool.hpp"
#include "aep/external_id.hpp"
#include "aep/records.hpp"
#include "io/run_marker.hpp"

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

namespace aep {
namespace {

namespace fs = std::filesystem;

class SpoolTest : public ::testing::Test {
  protected:
    void SetUp() override {
        root_ = fs::temp_directory_path() /
                ("aep-spool-test-" + std::to_string(::getpid()) + "-" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(root_);
        sp_ = std::make_unique<spool>(root_.string());
        sp_->ensure_layout(daemon_spool_owner());
    }
    void TearDown() override { fs::remove_all(root_); }

    void put(const std::string& sub, const std::string& name, const std::string& content) {
        std::ofstream(root_ / sub / name) << content;
    }
    std::string read(const fs::path& p) {
        std::ifstream in(p);
        return {std::istreambuf_iterator<char>(in), {}};
    }

    fs::path root_;
    std::unique_ptr<spool> sp_;
};

TEST_F(SpoolTest, LayoutIsCreated) {
    for (const char* sub : {"tmp", "incoming", "processing", "done", "failed"}) {
        EXPECT_TRUE(fs::is_directory(root_ / sub)) << sub;
    }
    sp_->ensure_layout(daemon_spool_owner());  // idempotent
}

TEST_F(SpoolTest, ListSkipsHiddenNames) {
    put("incoming", "a", "x");
    put("incoming", ".partial", "x");
    auto names = sp_->list("incoming");
    ASSERT_EQ(names.size(), 1u);
    EXPECT_EQ(names[0], "a");
}

TEST_F(SpoolTest, TakeClaimsOnceNeverReplacesAndReads) {
    put("incoming", "a", "ds1");
    auto t = sp_->take("a", 1024);
    ASSERT_EQ(t.status, spool::take_status::claimed);
    ASSERT_TRUE(t.read.ok) << t.read.reason;
    EXPECT_EQ(t.read.content, "ds1");
    EXPECT_FALSE(t.read.external_id);
    EXPECT_GE(t.fd.get(), 0) << "the claimed file stays open for the stamp";
    EXPECT_TRUE(fs::exists(root_ / "processing" / "a"));
    EXPECT_EQ(sp_->take("a", 1024).status, spool::take_status::gone);
    put("incoming", "a", "ds2");
    EXPECT_EQ(sp_->take("a", 1024).status, spool::take_status::busy);
    EXPECT_EQ(read(root_ / "processing" / "a"), "ds1");  // the in-flight twin is untouched
    EXPECT_TRUE(fs::exists(root_ / "incoming" / "a"));
}

TEST_F(SpoolTest, TakeLeavesAnEntryStillOpenForWritingInIncoming) {
    std::ofstream writer(root_ / "incoming" / "w");
    writer << "ds1" << std::flush;
    auto t = sp_->take("w", 1024);
    if (t.status == spool::take_status::claimed) {
        GTEST_SKIP() << "no file leases here (neither the file's owner nor CAP_LEASE)";
    }
    EXPECT_EQ(t.status, spool::take_status::writing);
    EXPECT_TRUE(fs::exists(root_ / "incoming" / "w"));
    writer.close();
    auto again = sp_->take("w", 1024);
    ASSERT_EQ(again.status, spool::take_status::claimed);
    EXPECT_EQ(again.read.content, "ds1");
}

TEST_F(SpoolTest, TakeClaimsWhatIsNotAPlainFileAndSaysWhy) {
    fs::create_symlink("/etc/passwd", root_ / "incoming" / "link");
    ASSERT_EQ(::mkfifo((root_ / "incoming" / "fifo").c_str(), 0600), 0);
    put("tmp", "target", "secret");
    fs::create_hard_link(root_ / "tmp" / "target", root_ / "incoming" / "hard");
    put("incoming", "big", std::string(2048, 'a'));
    const std::pair<const char*, const char*> cases[] = {{"link", "symbolic link"},
                                                         {"fifo", "not a regular file"},
                                                         {"hard", "hard links"},
                                                         {"big", "larger than 1 KiB"}};
    for (const auto& [name, why] : cases) {
        auto t = sp_->take(name, 1024);  // a fifo must not block
        ASSERT_EQ(t.status, spool::take_status::claimed) << name;
        EXPECT_FALSE(t.read.ok) << name;
        EXPECT_NE(t.read.reason.find(why), std::string::npos) << name << ": " << t.read.reason;
        EXPECT_LT(t.fd.get(), 0) << name;
        EXPECT_TRUE(fs::is_symlink(root_ / "processing" / name) ||
                    fs::exists(root_ / "processing" / name))
            << name;
    }
    EXPECT_EQ(read(root_ / "tmp" / "target"), "secret");
}

TEST_F(SpoolTest, ReadsRegularFilesOnly) {
    put("processing", "ok", "ds1\n");
    auto r = sp_->read_claimed("ok", 1024);
    ASSERT_TRUE(r.ok) << r.reason;
    EXPECT_EQ(r.content, "ds1\n");

    fs::create_symlink("/etc/passwd", root_ / "processing" / "link");
    r = sp_->read_claimed("link", 1024);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.reason.find("symbolic link"), std::string::npos);

    ASSERT_EQ(::mkfifo((root_ / "processing" / "fifo").c_str(), 0600), 0);
    r = sp_->read_claimed("fifo", 1024);  // must not block
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.reason.find("not a regular file"), std::string::npos);

    put("tmp", "target", "secret");
    fs::create_hard_link(root_ / "tmp" / "target", root_ / "processing" / "hard");
    r = sp_->read_claimed("hard", 1024);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.reason.find("hard links"), std::string::npos);

    put("processing", "big", std::string(2048, 'a'));
    r = sp_->read_claimed("big", 1024);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.reason, "entry is larger than 1 KiB");
}

TEST_F(SpoolTest, SeparateRecordIsWrittenThenTheEntryRemoved) {
    put("processing", "a", "ds1");
    auto path = sp_->record_done("a", "x1", "{\"externalId\":\"x1\",\"batchId\":\"b1\"}\n");
    sp_->remove_claimed("a");
    EXPECT_EQ(path, (root_ / "done" / "a.json").string());
    EXPECT_FALSE(fs::exists(root_ / "processing" / "a"));
    EXPECT_TRUE(done_record_matches(*sp_, "a", "x1"));
    EXPECT_FALSE(done_record_matches(*sp_, "a", "other"));
    // A second entry of the same name keeps the first record.
    put("processing", "a", "ds1");
    path = sp_->record_done("a", "x/2", "{\"externalId\":\"x/2\",\"batchId\":\"b2\"}\n");
    sp_->remove_claimed("a");
    EXPECT_EQ(path, (root_ / "done" / "a.x_2.json").string());
    EXPECT_EQ(read(root_ / "done" / "a.json"), "{\"externalId\":\"x1\",\"batchId\":\"b1\"}\n");
    EXPECT_TRUE(done_record_matches(*sp_, "a", "x/2"));
    // No temporary files are left behind.
    for (const auto& e : fs::directory_iterator(root_ / "done")) {
        EXPECT_NE(e.path().filename().string().front(), '.') << e.path();
    }
}

TEST_F(SpoolTest, FailMovesTheEntryBesideItsErrorFile) {
    put("processing", "bad", "bad id");
    sp_->fail("bad", "u1", "{\"reason\":\"r\"}\n");
    EXPECT_EQ(read(root_ / "failed" / "bad"), "bad id");
    EXPECT_EQ(read(root_ / "failed" / "bad.error.json"), "{\"reason\":\"r\"}\n");
    EXPECT_FALSE(fs::exists(root_ / "processing" / "bad"));
    put("processing", "bad", "again");
    sp_->fail("bad", "u2", "{}\n");
    EXPECT_EQ(read(root_ / "failed" / "bad.u2"), "again");
    EXPECT_TRUE(fs::exists(root_ / "failed" / "bad.u2.error.json"));
}

TEST_F(SpoolTest, OrphanErrorFileFromACrashIsReplacedNotDoubled) {
    put("failed", "bad.error.json", "{\"reason\":\"old\"}\n");  // entry move never happened
    put("processing", "bad", "bad id");
    sp_->fail("bad", "u1", "{\"reason\":\"new\"}\n");
    EXPECT_EQ(read(root_ / "failed" / "bad.error.json"), "{\"reason\":\"new\"}\n");
    EXPECT_EQ(read(root_ / "failed" / "bad"), "bad id");
    EXPECT_EQ(sp_->list("failed").size(), 2u);
}

TEST_F(SpoolTest, StaleTempFilesOfDeadProcessesAreRemoved) {
    put("done", ".a.json.999999999.tmp", "x");  // no such pid
    const std::string live = ".b.json." + std::to_string(::getpid()) + ".tmp";
    put("done", live, "x");
    put("processing", ".c.999999998.tmp", "x");
    put("incoming", ".writer.tmp", "x");  // writers' files are not ours to remove
    EXPECT_EQ(sp_->remove_stale_temps(), 2u);
    EXPECT_TRUE(fs::exists(root_ / "done" / live));
    EXPECT_TRUE(fs::exists(root_ / "incoming" / ".writer.tmp"));
}

TEST_F(SpoolTest, ExternalIdStampTravelsWithTheFile) {
    put("incoming", "a", "ds1");
    auto t = sp_->take("a", 1024);
    ASSERT_EQ(t.status, spool::take_status::claimed);
    ASSERT_TRUE(t.read.ok);
    EXPECT_FALSE(t.read.external_id) << "a fresh entry carries no stamp";
    if (!sp_->stamp_external_id(t, "a", "aepb-0123")) {
        GTEST_SKIP() << "this file system takes no user extended attributes";
    }
    sp_->sync_file_system();
    auto again = sp_->read_claimed("a", 1024);
    ASSERT_TRUE(again.ok);
    EXPECT_EQ(again.content, "ds1") << "the content is left as the producer wrote it";
    EXPECT_EQ(again.external_id, "aepb-0123");
    // A power loss can undo the claim's rename: the stamp is on the inode, not the name.
    t.fd.reset();  // the claimer went down with the machine
    fs::rename(root_ / "processing" / "a", root_ / "incoming" / "a");
    auto retaken = sp_->take("a", 1024);
    ASSERT_EQ(retaken.status, spool::take_status::claimed);
    EXPECT_EQ(retaken.read.external_id, "aepb-0123");
    EXPECT_THROW(sp_->stamp_external_id("missing", "aepb-1"), spool_error);
}

TEST_F(SpoolTest, DerivedExternalIdFollowsTheFileNotItsName) {
    put("incoming", "a", "ds1");
    const auto dir = sp_->incoming_identity();
    auto t = sp_->take("a", 1024);
    ASSERT_TRUE(t.read.ok);
    if (!dir || !t.read.identity) GTEST_SKIP() << "this file system records no birth times";
    const std::string id = derive_external_id(*dir, *t.read.identity);
    EXPECT_EQ(id.size(), 5u + 32u);
    EXPECT_EQ(id.rfind("aepb-", 0), 0u);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef", 5), std::string::npos);
    // The same file after a power loss undid its claim and took its stamp: the same id.
    t.fd.reset();  // the claimer went down with the machine
    fs::rename(root_ / "processing" / "a", root_ / "incoming" / "a");
    auto retaken = sp_->take("a", 1024);
    ASSERT_TRUE(retaken.read.identity);
    EXPECT_EQ(derive_external_id(*dir, *retaken.read.identity), id);
    EXPECT_EQ(derive_external_id(*dir, *sp_->read_claimed("a", 1024).identity), id);
    // The same name dropped again is another file, and gets another id.
    fs::remove(root_ / "processing" / "a");
    put("incoming", "a", "ds1");
    auto twin = sp_->take("a", 1024);
    ASSERT_TRUE(twin.read.identity);
    EXPECT_NE(derive_external_id(*dir, *twin.read.identity), id);
    // Another spool's directory gives the same file another id.
    file_identity other = *dir;
    other.ino += 1;
    EXPECT_NE(derive_external_id(other, *twin.read.identity),
              derive_external_id(*dir, *twin.read.identity));
}

TEST(DerivedExternalId, IsAFixedFunctionOfItsInputs) {
    // Ids derived by an earlier version must be derived alike after an upgrade: SHA-256 of
    // "aepbxid1" and the four numbers as little-endian 64-bit integers, first 16 bytes in hex
    // (the value computed independently, with Python's hashlib).
    EXPECT_EQ(derive_external_id({1, 2}, {3, 4}), "aepb-29778352ea548dd1df82e3256d0f32b1");
    EXPECT_NE(derive_external_id({1, 2}, {3, 4}), derive_external_id({1, 2}, {3, 5}));
    EXPECT_NE(derive_external_id({1, 2}, {3, 4}), derive_external_id({2, 1}, {3, 4}));
}

TEST_F(SpoolTest, RunMarkersTellALostBootFromACrashedProcess) {
    const std::int64_t t0 = 1'800'000'000'000'000'000;
    const auto markers = [this] {
        std::vector<std::string> out;
        for (const auto& e : fs::directory_iterator(root_)) {
            const auto n = e.path().filename().string();
            if (n.rfind(".aep-batchd-run.", 0) == 0) out.push_back(n);
        }
        std::sort(out.begin(), out.end());
        return out;
    };
    // Another live run (another daemon on this spool, in this container or another): its
    // marker is locked, and left alone whatever boot it names.
    const auto live = root_ / ".aep-batchd-run.boot-x.0123456789abcdef";
    std::ofstream(live) << "boot-x\n";
    const int live_fd = ::open(live.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(live_fd, 0);
    ASSERT_EQ(::flock(live_fd, LOCK_EX | LOCK_NB), 0);

    auto first = begin_run(sp_->root(), "boot-a", t0);
    ASSERT_TRUE(first.marked) << first.problem;
    EXPECT_FALSE(first.after_lost_boot) << "a live run of another boot is not a lost machine";
    EXPECT_FALSE(first.doubt_before_ns) << "a fresh spool has nothing in doubt";
    EXPECT_EQ(first.marker.rfind(".aep-batchd-run.boot-a.", 0), 0u) << first.marker;
    EXPECT_EQ(markers(), (std::vector<std::string>{first.marker, live.filename().string()}))
        << "sorted: boot-a before boot-x";
    EXPECT_TRUE(sp_->list("incoming").empty()) << "markers live beside the directories";
    // This run's marker is locked: another start takes it for a live run.
    auto second = begin_run(sp_->root(), "boot-a", t0 + 1);
    ASSERT_TRUE(second.marked) << second.problem;
    EXPECT_EQ(markers().size(), 3u);
    end_run(sp_->root(), second);

    // A run of this boot whose process died (its marker unlocked): its changes are in the page
    // cache, so nothing is in doubt, and its marker goes.
    std::ofstream(root_ / ".aep-batchd-run.boot-a.dead") << "boot-a\n";
    auto same_boot = begin_run(sp_->root(), "boot-a", t0 + 2);
    EXPECT_FALSE(same_boot.after_lost_boot);
    EXPECT_FALSE(same_boot.doubt_before_ns);
    EXPECT_FALSE(fs::exists(root_ / ".aep-batchd-run.boot-a.dead")) << "stale, removed";
    end_run(sp_->root(), same_boot);

    // The machine went down under a run (its marker names another boot, and nobody holds it):
    // every entry born before this start is in doubt, and stays so at later starts (the moment
    // is kept, only ever raised).
    const std::string first_marker = first.marker;
    first.lock.reset();  // the process of that boot is gone
    auto rebooted = begin_run(sp_->root(), "boot-b", t0 + 5);
    EXPECT_TRUE(rebooted.after_lost_boot);
    ASSERT_TRUE(rebooted.doubt_before_ns);
    EXPECT_EQ(*rebooted.doubt_before_ns, t0 + 5);
    EXPECT_FALSE(fs::exists(root_ / first_marker))
        << "the lost boot's marker is cleared once noted";
    EXPECT_TRUE(fs::exists(live)) << "a live run's marker is never cleared";
    end_run(sp_->root(), rebooted);
    auto later = begin_run(sp_->root(), "boot-b", t0 + 9);
    EXPECT_FALSE(later.after_lost_boot) << "the last run stopped cleanly";
    EXPECT_EQ(later.doubt_before_ns, t0 + 5);
    end_run(sp_->root(), later);
    EXPECT_EQ(markers(), (std::vector<std::string>{live.filename().string()}));

    // A doubt file that cannot be read puts everything present in doubt.
    std::ofstream(root_ / ".aep-batchd-doubt", std::ios::trunc) << "garbage";
    auto garbled = begin_run(sp_->root(), "boot-b", t0 + 20);
    EXPECT_EQ(garbled.doubt_before_ns, t0 + 20);
    end_run(sp_->root(), garbled);
    ::close(live_fd);
}

TEST_F(SpoolTest, RecordReplacesTheEntryInItsOwnFileThenMovesToDone) {
    put("incoming", "a", "ds1");
    auto t = sp_->take("a", 1024);
    ASSERT_EQ(t.status, spool::take_status::claimed);
    if (!sp_->stamp_external_id(t, "a", "x1")) {
        GTEST_SKIP() << "this file system takes no user extended attributes";
    }
    struct stat before {};
    ASSERT_EQ(::stat((root_ / "processing" / "a").c_str(), &before), 0);
    const std::string rec = "{\"externalId\":\"x1\",\"batchId\":\"b1\"}\n";
    ASSERT_TRUE(sp_->write_record_in_place("a", rec));
    EXPECT_EQ(read(root_ / "processing" / "a"), rec);
    EXPECT_TRUE(is_record_of(rec, "x1"));
    EXPECT_FALSE(is_record_of(rec, "x2"));
    EXPECT_FALSE(is_record_of("ds1", "x1"));
    EXPECT_FALSE(is_record_of(rec.substr(0, rec.size() / 2), "x1")) << "torn";
    EXPECT_FALSE(is_record_of("{\"externalId\":\"x1\"}", "x1")) << "no batchId";
    EXPECT_EQ(sp_->file_record("a", "x1"), (root_ / "done" / "a.json").string());
    struct stat after {};
    ASSERT_EQ(::stat((root_ / "done" / "a.json").c_str(), &after), 0);
    EXPECT_EQ(after.st_ino, before.st_ino) << "no file was created";
    EXPECT_FALSE(fs::exists(root_ / "processing" / "a"));
    // A shorter record than the entry leaves nothing of the entry behind.
    put("processing", "a", std::string(500, 'd'));
    ASSERT_TRUE(sp_->write_record_in_place("a", "{\"batchId\":\"b2\"}"));
    EXPECT_EQ(read(root_ / "processing" / "a"), "{\"batchId\":\"b2\"}");
    // The name is taken in done/: the record goes beside it, never over it.
    EXPECT_EQ(sp_->file_record("a", "x/2"), (root_ / "done" / "a.x_2.json").string());
    EXPECT_EQ(read(root_ / "done" / "a.json"), rec);
    EXPECT_THROW(sp_->file_record("a", "x3"), spool_error) << "nothing left to move";
}

TEST_F(SpoolTest, RewriteReplacesAtomically) {
    put("processing", "a", "ds1");
    sp_->rewrite_claimed("a", "{\"datasetId\":\"ds1\",\"externalId\":\"x\"}\n");
    EXPECT_EQ(read(root_ / "processing" / "a"), "{\"datasetId\":\"ds1\",\"externalId\":\"x\"}\n");
    EXPECT_EQ(sp_->list("processing").size(), 1u);
}

TEST_F(SpoolTest, UnwritableDoneIsAnErrorNotALoss) {
    // done/ replaced by a plain file: fails for root too, unlike a permission change.
    put("processing", "a", "ds1");
    fs::remove(root_ / "done");
    put("", "done", "not a directory");
    EXPECT_THROW(sp_->record_done("a", "x", "{}"), spool_error);
    EXPECT_EQ(read(root_ / "processing" / "a"), "ds1")
        << "the entry must stay until its record is written";
}

TEST(SpoolLayout, ErrorNamesThePath) {
    spool sp("/proc/aep-cannot-exist");
    try {
        sp.ensure_layout(daemon_spool_owner());
        FAIL() << "expected an error";
    } catch (const spool_error& e) {
        EXPECT_NE(std::string(e.what()).find("/proc/aep-cannot-exist"), std::string::npos)
            << e.what();
    }
}

TEST_F(SpoolTest, AClaimedEntryIsOwnedByWhoeverHoldsItsFile) {
    put("incoming", "a", "ds1");
    auto mine = sp_->take("a", 1024);
    ASSERT_EQ(mine.status, spool::take_status::claimed);
    ASSERT_TRUE(mine.fd);
    // Another daemon's start finds it in processing/: not its to resume while this one lives.
    EXPECT_EQ(sp_->resume("a", 1024).status, spool::take_status::owned);
    mine.fd.reset();  // this one stopped (or died) with the entry in processing/
    auto resumed = sp_->resume("a", 1024);
    ASSERT_EQ(resumed.status, spool::take_status::claimed);
    ASSERT_TRUE(resumed.read.ok);
    EXPECT_EQ(resumed.read.content, "ds1");
    EXPECT_TRUE(resumed.fd);
    EXPECT_EQ(sp_->resume("a", 1024).status, spool::take_status::owned);
    sp_->remove_claimed("a");
    EXPECT_EQ(sp_->resume("a", 1024).status, spool::take_status::gone);
}

TEST_F(SpoolTest, ARewrittenEntryStaysOwned) {
    put("incoming", "a", "ds1");
    auto mine = sp_->take("a", 1024);
    ASSERT_TRUE(mine.fd);
    auto held = sp_->rewrite_claimed("a", "{\"datasetId\":\"ds1\",\"externalId\":\"x\"}\n");
    mine.fd.reset();  // the old file's lock goes; the new file is held already
    EXPECT_EQ(sp_->resume("a", 1024).status, spool::take_status::owned);
    held.reset();
    EXPECT_EQ(sp_->resume("a", 1024).read.content, "{\"datasetId\":\"ds1\",\"externalId\":\"x\"}\n");
}

TEST_F(SpoolTest, ProgressIsReadBackBesideTheStamp) {
    put("incoming", "a", "ds1");
    auto t = sp_->take("a", 1024);
    if (!sp_->stamp_external_id(t, "a", "aepb-0123")) GTEST_SKIP() << "no user xattrs here";
    EXPECT_TRUE(spool::write_progress(t.fd, "aepb-0123", "2 1796135700 1796135704 503"));
    t.fd.reset();
    const auto again = sp_->resume("a", 1024);
    ASSERT_TRUE(again.read.ok);
    EXPECT_EQ(again.read.external_id, "aepb-0123");
    EXPECT_EQ(again.read.progress, "2 1796135700 1796135704 503");
    EXPECT_FALSE(spool::write_progress(unique_fd{}, "aepb-0123", "1 0 0"))
        << "nothing open: nothing written";
}

TEST_F(SpoolTest, AStampOfVersion01IsStillRead) {
    put("processing", "a", "ds1");
    if (::setxattr((root_ / "processing" / "a").c_str(), "user.aep-batchd.external-id",
                   "aepb-old", 8, 0) != 0) {
        GTEST_SKIP() << "no user xattrs here";
    }
    const auto r = sp_->read_claimed("a", 1024);
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.external_id, "aepb-old");
    EXPECT_FALSE(r.progress);
}

}  // namespace
}  // namespace aep
