#include "aep/entry.hpp"

#include <gtest/gtest.h>

namespace aep {
namespace {

std::string error_of(const std::string& files) {
    return parse_entry(R"({"datasetId": "ds", "files": )" + files + "}").error;
}

TEST(EntryFiles, PathsAndObjectsWithRemoteAndChecksum) {
    const std::string sha(64, 'A');
    auto p = parse_entry(R"({"datasetId": "ds", "files": ["2026-12-01/part-0001.parquet",
        {"path": "2026-12-01/part-0002.parquet", "remote": "date=2026-12-01/part-0002.parquet",
         "sha256": ")" + sha + R"("}]})");
    ASSERT_TRUE(p.value) << p.error;
    ASSERT_EQ(p.value->files.size(), 2u);
    EXPECT_EQ(p.value->files[0],
              (data_file{"2026-12-01/part-0001.parquet", "2026-12-01/part-0001.parquet", {}}));
    EXPECT_EQ(p.value->files[1].remote, "date=2026-12-01/part-0002.parquet");
    EXPECT_EQ(p.value->files[1].sha256, std::string(64, 'a')) << "normalised to lower case";
    // Written back and read again, the same.
    auto again = parse_entry(serialize_entry(*p.value));
    ASSERT_TRUE(again.value) << again.error;
    EXPECT_EQ(again.value->files, p.value->files);
    // Without files: an entry as before.
    EXPECT_TRUE(parse_entry(R"({"datasetId": "ds"})").value->files.empty());
}

TEST(EntryFiles, HostilePathsAreRefusedWithTheirReason) {
    const std::pair<const char*, const char*> cases[] = {
        {R"(["../etc/passwd"])", "files[0]: path has a '..' component"},
        {R"(["a/../../b"])", "files[0]: path has a '..' component"},
        {R"(["/etc/passwd"])", "files[0]: path must be relative to the queue's data_dir"},
        {R"(["a//b"])", "files[0]: path has an empty component"},
        {R"(["a/"])", "files[0]: path has an empty component"},
        {R"(["./a"])", "files[0]: path has a '.' component"},
        {R"([""])", "files[0]: path is empty"},
        {R"(["a\nb"])", "files[0]: path has a control character"},
        {R"(["ok", "spaces in name.csv"])", "files[1]: path, the file's name on AEP unless remote is given, may hold only [A-Za-z0-9._=-]"},
        {R"([{"path": "a", "remote": "x/../y"}])", "files[0]: remote has a '..' component"},
        {R"([{"path": "a", "remote": "/abs"}])", "files[0]: remote must not start with '/'"},
        {R"([{"path": "a", "remote": ""}])", "files[0]: remote is empty"},
        {R"([{"path": "a", "sha256": "abc"}])", "files[0]: sha256 must be 64 hexadecimal digits"},
        {R"([{"remote": "a"}])", "files[0]: path is required"},
        {R"([{"path": "a", "size": 3}])", "files[0]: unknown key 'size'"},
        {R"([7])", "files[0] must be a path or an object"},
        {R"("a")", "files must be a list"},
        {R"([])", "files must list at least one file"},
        {R"(["a", {"path": "b", "remote": "a"}])", "files[1]: another file goes to the same remote path 'a'"},
    };
    for (const auto& [files, message] : cases) {
        const auto e = error_of(files);
        EXPECT_EQ(e.rfind(message, 0), 0u) << files << " gave: " << e;
    }
    std::string many = "[";
    for (int i = 0; i < 1501; ++i) many += (i ? ",\"f" : "\"f") + std::to_string(i) + "\"";
    EXPECT_EQ(error_of(many + "]"), "files lists 1501 files; a batch takes at most 1500");
}

TEST(EntryFiles, RemotePathRules) {
    EXPECT_EQ(remote_path_problem("date=2026-12-01/hour=07/part-0001.snappy.parquet"), "");
    EXPECT_EQ(remote_path_problem("a.b_c-d=e"), "");
    EXPECT_NE(remote_path_problem("a b"), "");
    EXPECT_NE(remote_path_problem("a%2F"), "");
    EXPECT_NE(remote_path_problem(std::string(1025, 'a')), "");
    EXPECT_EQ(local_path_problem("deep/er/file with spaces é.json"), "") << "any name locally";
    EXPECT_GT(upload_url_length("https://platform.adobe.io/data/foundation/import", "ds", "a"),
              100u);
}

}  // namespace
}  // namespace aep
