#include "io/data_files.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

namespace aep {
namespace {

namespace fs = std::filesystem;

class DataFiles : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/aep-data-XXXXXX";
        root_ = ::mkdtemp(tmpl);
        data_ = root_ / "data";
        fs::create_directories(data_ / "sub");
        write(data_ / "sub" / "a.json", "{\"x\": 1}\n");
        write(root_ / "secret", "outside\n");
        write(data_ / "empty", "");
        fs::create_symlink(root_ / "secret", data_ / "link-out");
        fs::create_symlink("a.json", data_ / "sub" / "link-in");
        fs::create_directory_symlink(root_, data_ / "dirlink");
        ::mkfifo((data_ / "fifo").c_str(), 0600);
    }
    void TearDown() override { fs::remove_all(root_); }
    static void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }
    std::string problem(const std::string& rel) { return open_data_file(data_, rel).problem; }

    fs::path root_, data_;
};

TEST_F(DataFiles, ARegularFileBeneathTheDirectoryOpens) {
    auto f = open_data_file(data_, "sub/a.json");
    ASSERT_EQ(f.problem, "");
    EXPECT_EQ(f.identity.size, 9u);
    char buf[16];
    EXPECT_EQ(read_at(f.fd.get(), 1, buf, sizeof buf, "a"), 8u);
    EXPECT_EQ(std::string(buf, 8), "\"x\": 1}\n");
}

TEST_F(DataFiles, EverythingElseIsRefusedNamingTheFile) {
    EXPECT_EQ(problem("nope"), "file nope: no such file");
    EXPECT_EQ(problem("link-out"), "file link-out: a symbolic link is on the way (links are not followed)");
    EXPECT_EQ(problem("sub/link-in"), "file sub/link-in: a symbolic link is on the way (links are not followed)");
    EXPECT_EQ(problem("dirlink/secret"), "file dirlink/secret: a symbolic link is on the way (links are not followed)");
    EXPECT_EQ(problem("../secret"), "file ../secret: leads out of the queue's data_dir");
    EXPECT_EQ(problem("fifo"), "file fifo: not a regular file");
    EXPECT_EQ(problem("sub"), "file sub: not a regular file");
    EXPECT_EQ(problem("empty"), "file empty: is empty (0 bytes); AEP takes no empty file");
    EXPECT_EQ(problem("sub/a.json/x"), "file sub/a.json/x: a part of the path is not a directory");
    EXPECT_NE(open_data_file((root_ / "missing").string(), "a").problem.find("the queue's data_dir"),
              std::string::npos);
}

TEST_F(DataFiles, TheWalkByComponentsRefusesTheSame) {
    unique_fd dir(::open(data_.c_str(), O_RDONLY | O_DIRECTORY));
    unique_fd ok(open_beneath_by_components(dir.get(), "sub/a.json"));
    EXPECT_TRUE(ok);
    for (const char* rel : {"link-out", "sub/link-in", "dirlink/secret"}) {
        EXPECT_EQ(open_beneath_by_components(dir.get(), rel), -1) << rel;
        EXPECT_EQ(errno, ELOOP) << rel;
    }
    EXPECT_EQ(open_beneath_by_components(dir.get(), "../secret"), -1);
    EXPECT_EQ(errno, EXDEV);
    const int fifo = open_beneath_by_components(dir.get(), "fifo");
    EXPECT_GE(fifo, 0) << "opened without waiting for a writer";
    ::close(fifo);
}

TEST_F(DataFiles, AChangeAfterTheClaimIsTold) {
    const auto claimed = open_data_file(data_, "sub/a.json").identity;
    EXPECT_EQ(reopen_data_file(data_, "sub/a.json", claimed).problem, "");
    write(data_ / "sub" / "a.json", "{\"x\": 12}\n");
    EXPECT_NE(reopen_data_file(data_, "sub/a.json", claimed).problem.find("size 9 -> 10"),
              std::string::npos);
    fs::remove(data_ / "sub" / "a.json");
    EXPECT_NE(reopen_data_file(data_, "sub/a.json", claimed).problem.find("no such file"),
              std::string::npos);
}

TEST(Sha256, KnownDigests) {
    sha256 h;
    h.update("ab", 2);
    h.update("c", 1);
    EXPECT_EQ(h.hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sha256 empty;
    EXPECT_EQ(empty.hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

}  // namespace
}  // namespace aep

namespace aep {
namespace {

TEST(Sha256, OfAFileAndOfAFileThatShrank) {
    char tmpl[] = "/tmp/aep-sha-XXXXXX";
    const int fd = ::mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    const std::string abc = "abc";
    ASSERT_EQ(::write(fd, abc.data(), abc.size()), 3);
    EXPECT_EQ(sha256_of(fd, 3, "f"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256_of(fd, 2, "f"), "fb8e20fc2e4c3f248c60c39bd652f3c1347298bb977b8b4d5903b85055620603")
        << "the first bytes only";
    EXPECT_THROW(sha256_of(fd, 4, "f"), spool_error);
    ::close(fd);
    ::unlink(tmpl);
}

}  // namespace
}  // namespace aep
