// The outcome records an entry ends with (README, *Outcome files*): the done record of a created
// batch, the failure record of an entry that will not be created, and recognising a done record.
// Owns: their fields, order and escaping. Does not own: where they are written (io/spool) or
// when (pipeline/recorder). Pure, but for done_record_matches, which reads done/.
#pragma once

#include "aep/batch_api.hpp"
#include "aep/upload_api.hpp"
#include "io/spool.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace aep {

// The done record of a created batch: one line of JSON (with its newline), with the fields
// the README documents, in that order. `response` is embedded as the JSON text it is. Strings
// are escaped; `entry` may hold any bytes (invalid UTF-8 becomes U+FFFD).
struct done_record_fields {
    std::string_view queue, entry, dataset_id, external_id, created_at;
    int attempts = 0;
    bool recovered = false;
};

// What a full entry's records add (README, *Outcome files*): each file as sent, and the
// batch's end as Catalog told it.
struct sent_file {
    std::string_view path, remote;
    std::uint64_t size = 0;
    std::string_view sha256;  // of the bytes sent
};
struct full_outcome {
    std::vector<sent_file> files;
    const batch_status* status = nullptr;  // the final one (nullptr: none seen)
    std::string_view completed_at, finished_at;  // empty: not reached
};

// With `full`, `status` is the final status and files, recordCount, failedRecordCount,
// errors (Catalog's, as given), completedAt and finishedAt follow createdAt.
std::string done_record_text(const done_record_fields& f, const create_result& r,
                             const full_outcome* full = nullptr);

// The failure record: one line of JSON (with its newline). Empty strings and a missing status
// are written as null; `entry`, `reason`, `response_body` and `request_id` may hold any bytes.
struct failure_record_fields {
    std::string_view queue, entry, dataset_id, failed_at;
    std::optional<std::string_view> external_id;
    std::string_view reason;
    std::optional<unsigned> http_status;
    std::string_view response_body, request_id;
    int attempts = 0;
    // A full entry's: where it failed (validate, create, upload, complete, track), its batch,
    // the file at fault, and the batch's status and errors when known.
    std::string_view stage, batch_id, file;
    const batch_status* status = nullptr;
};
std::string failure_record_text(const failure_record_fields& f);

// True when `text` is a done record (a JSON object with a batchId) of `external_id`.
bool is_record_of(std::string_view text, std::string_view external_id);

// True when done/ holds the record of this externalId under the entry's name (a crash struck
// between recording the result and removing the entry, so it needs no second request).
// Blocking: reads the spool. Throws spool_error.
bool done_record_matches(const spool& sp, const std::string& name, const std::string& external_id);

}  // namespace aep
