// The calls of a full entry after its batch is created, as pure functions: uploading its files
// (one PUT, or INITIALIZE, PATCH parts, HEAD and COMPLETE for a large one), completing the
// batch, and reading its status from Catalog; and what each answer means.
// Owns: targets, headers, Content-Range, the HEAD answer's ranges, the next part to send, the
// final-status classification. Does not own: streaming the bytes (io/https_client) or when to
// send what (policy/, pipeline/). Pure.
#pragma once

#include "aep/batch_api.hpp"

#include <boost/json/array.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aep {

// Where one file of a batch goes: {import_url}/batches/{batch}/datasets/{dataset}/files/{remote}.
struct file_target {
    std::string_view batch_id, dataset_id, remote;
};

// PUT of a whole file (Content-Type application/octet-stream, Content-Length `size`); the
// body is streamed by the caller.
http::request<http::string_body> file_put_request(const endpoint& import_ep, const api_caller& as,
                                                  const file_target& t, std::uint64_t size);
// PATCH of bytes [first, last] of a file of `total` bytes (Content-Range: bytes first-last/total).
http::request<http::string_body> file_part_request(const endpoint& import_ep, const api_caller& as,
                                                   const file_target& t, std::uint64_t first,
                                                   std::uint64_t last, std::uint64_t total);
// POST ?action=INITIALIZE or ?action=COMPLETE of a large file (Content-Type application/json,
// as the spec requires, and no body), and its HEAD.
http::request<http::string_body> file_action_request(const endpoint& import_ep,
                                                     const api_caller& as, const file_target& t,
                                                     std::string_view action);
http::request<http::string_body> file_head_request(const endpoint& import_ep, const api_caller& as,
                                                   const file_target& t);
// POST {import_url}/batches/{id}?action=COMPLETE.
http::request<http::string_body> batch_complete_request(const endpoint& import_ep,
                                                        const api_caller& as,
                                                        std::string_view batch_id);
// GET {catalog_url}/batches/{id}.
http::request<http::string_body> batch_status_request(const endpoint& catalog_ep,
                                                      const api_caller& as,
                                                      std::string_view batch_id);

// What an answer to an upload, a file action or a batch COMPLETE means.
enum class call_outcome {
    ok,         // 200, 201 (204 for an action)
    refresh,    // 401: a fresh token, once, then again
    transient,  // 408, 429, 5xx: again after a back-off (Retry-After honoured)
    permanent,  // 400, 403, 404, 413, 414, 415, 422 and other 4xx: abort the batch, failed/
};
call_outcome classify_call(unsigned status);

// The ranges of a file a server says it holds, from HEAD's Range (or Content-Range) header:
// "bytes=0-99", "bytes=0-99,200-299", "0-99", "bytes 0-99/1000", with spaces around the
// separators; inclusive bounds, sorted and merged. An empty header is no range; nullopt when
// the header cannot be read (then nothing received is assumed).
using byte_ranges = std::vector<std::pair<std::uint64_t, std::uint64_t>>;
std::optional<byte_ranges> parse_received_ranges(std::string_view header);
// "bytes first-last/total".
std::string content_range(std::uint64_t first, std::uint64_t last, std::uint64_t total);
// The next part to send of a file of `total` bytes, given what was received: the first byte
// not received and up to part_size bytes from it, never into a range already received (no
// overlap). nullopt when every byte is there.
std::optional<std::pair<std::uint64_t, std::uint64_t>> next_part(const byte_ranges& received,
                                                                std::uint64_t total,
                                                                std::uint64_t part_size);

// A batch's status as Catalog gives it, and what it means for the entry.
struct batch_status {
    enum class kind {
        pending,    // loading, staging, processing, queued, retrying, ...: poll again
        stalled,    // not documented as final: warn once, poll again
        succeeded,  // success, active (failed records may be > 0); inactive and deleted too,
                    // which only follow a success
        failed,     // failed, failure
        aborted,
        abandoned,
        unknown,    // the answer is not a batch status (an error, or unreadable)
    } k = kind::unknown;
    std::string status;                             // as given
    std::optional<std::int64_t> record_count;       // recordCount (else metrics')
    std::optional<std::int64_t> failed_record_count;
    boost::json::array errors;                      // Catalog's, as given
    std::string reason;                             // unknown: why
};
batch_status::kind classify_status(std::string_view status);
// GET {catalog}/batches/{id} answers {"<id>": {...}}.
batch_status parse_batch_status(unsigned status, std::string_view body, std::string_view batch_id);

}  // namespace aep
