#include "spool.hpp"

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sys/stat.h>
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
        sp_->ensure_layout();
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
    sp_->ensure_layout();  // idempotent
}

TEST_F(SpoolTest, ListSkipsHiddenNames) {
    put("incoming", "a", "x");
    put("incoming", ".partial", "x");
    auto names = sp_->list("incoming");
    ASSERT_EQ(names.size(), 1u);
    EXPECT_EQ(names[0], "a");
}

TEST_F(SpoolTest, ClaimMovesOnceAndNeverReplaces) {
    put("incoming", "a", "ds1");
    EXPECT_EQ(sp_->claim("a"), spool::claim_status::claimed);
    EXPECT_TRUE(fs::exists(root_ / "processing" / "a"));
    EXPECT_EQ(sp_->claim("a"), spool::claim_status::gone);
    put("incoming", "a", "ds2");
    EXPECT_EQ(sp_->claim("a"), spool::claim_status::busy);
    EXPECT_EQ(read(root_ / "processing" / "a"), "ds1");  // the in-flight twin is untouched
    EXPECT_TRUE(fs::exists(root_ / "incoming" / "a"));
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

TEST_F(SpoolTest, CompleteWritesTheRecordThenRemovesTheEntry) {
    put("processing", "a", "ds1");
    auto path = sp_->complete("a", "x1", "{\"externalId\":\"x1\",\"batchId\":\"b1\"}\n");
    EXPECT_EQ(path, (root_ / "done" / "a.json").string());
    EXPECT_FALSE(fs::exists(root_ / "processing" / "a"));
    EXPECT_TRUE(sp_->done_record_matches("a", "x1"));
    EXPECT_FALSE(sp_->done_record_matches("a", "other"));
    // A second entry of the same name keeps the first record.
    put("processing", "a", "ds1");
    path = sp_->complete("a", "x/2", "{\"externalId\":\"x/2\",\"batchId\":\"b2\"}\n");
    EXPECT_EQ(path, (root_ / "done" / "a.x_2.json").string());
    EXPECT_EQ(read(root_ / "done" / "a.json"), "{\"externalId\":\"x1\",\"batchId\":\"b1\"}\n");
    EXPECT_TRUE(sp_->done_record_matches("a", "x/2"));
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
    ASSERT_EQ(sp_->claim("a"), spool::claim_status::claimed);
    auto first = sp_->read_claimed("a", 1024);
    ASSERT_TRUE(first.ok);
    EXPECT_FALSE(first.external_id) << "a fresh entry carries no stamp";
    if (!sp_->stamp_external_id("a", "aepb-0123")) {
        GTEST_SKIP() << "this file system takes no user extended attributes";
    }
    auto again = sp_->read_claimed("a", 1024);
    ASSERT_TRUE(again.ok);
    EXPECT_EQ(again.content, "ds1") << "the content is left as the producer wrote it";
    EXPECT_EQ(again.external_id, "aepb-0123");
    // A power loss can undo the claim's rename: the stamp is on the inode, not the name.
    fs::rename(root_ / "processing" / "a", root_ / "incoming" / "a");
    ASSERT_EQ(sp_->claim("a"), spool::claim_status::claimed);
    EXPECT_EQ(sp_->read_claimed("a", 1024).external_id, "aepb-0123");
    EXPECT_THROW(sp_->stamp_external_id("missing", "aepb-1"), spool_error);
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
    EXPECT_THROW(sp_->complete("a", "x", "{}"), spool_error);
    EXPECT_EQ(read(root_ / "processing" / "a"), "ds1")
        << "the entry must stay until its record is written";
}

TEST(SpoolLayout, ErrorNamesThePath) {
    spool sp("/proc/aep-cannot-exist");
    try {
        sp.ensure_layout();
        FAIL() << "expected an error";
    } catch (const spool_error& e) {
        EXPECT_NE(std::string(e.what()).find("/proc/aep-cannot-exist"), std::string::npos)
            << e.what();
    }
}

}  // namespace
}  // namespace aep
