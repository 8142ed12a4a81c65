// The data files an entry names (`files`): where each is read from (a path beneath the queue's
// data_dir) and where it goes in the batch (its filePath on AEP), with the rules both obey.
// Owns: the grammar of one `files` item and the path rules. Does not own: opening the files
// (io/data_files) or uploading them (pipeline/). Pure.
#pragma once

#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aep {

// One file of an entry.
struct data_file {
    std::string path;                   // relative to the queue's data_dir
    std::string remote;                 // its filePath in the batch (defaults to path)
    std::optional<std::string> sha256;  // lower-case hex; the bytes sent must match it

    bool operator==(const data_file&) const = default;
};

// The API's limits: files per batch, bytes per batch (100 GB), the whole URL.
inline constexpr std::size_t max_files_per_entry = 1500;
inline constexpr std::uint64_t max_bytes_per_batch = 100'000'000'000ull;
inline constexpr std::size_t max_upload_url = 2000;

// Why `p` may not name a file beneath data_dir ("" when it may): relative, no empty, `.` or
// `..` component, no control character, at most 4096 bytes.
std::string local_path_problem(std::string_view p);
// Why `p` may not be a filePath on AEP ("" when it may): components of [A-Za-z0-9._=-] (Hive
// partitions such as date=2026-12-01 keep their folders), none `.` or `..`, no empty one.
std::string remote_path_problem(std::string_view p);

// The `files` value of a JSON entry: 1 to 1500 items, each a path or {"path", "remote"?,
// "sha256"?}, no two with the same remote. Returns why it is wrong ("" when right).
std::string read_files(const boost::json::value& v, std::vector<data_file>& out);
// The `files` value as written back (paths as strings where nothing else is set).
boost::json::value files_json(const std::vector<data_file>& files);

// The upload URL's length for a remote path, given the import URL, the dataset id and a batch
// id as long as AEP's (26 characters; 40 allowed for): checked before any batch exists.
std::size_t upload_url_length(std::string_view import_url, std::string_view dataset_id,
                              std::string_view remote);

}  // namespace aep
