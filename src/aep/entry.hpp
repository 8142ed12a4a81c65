// What a spool entry asks for, parsed from the bytes of its file.
// Owns: the entry grammar (bare dataset id, or a JSON object) and its normalised JSON form.
// Does not own: reading files (spool) or building the HTTP request (batch_api). Pure.
#pragma once

#include "aep/entry_files.hpp"
#include "config/config.hpp"

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace aep {

struct batch_entry {
    std::string dataset_id;
    std::optional<input_format> format;       // the queue default applies when absent
    std::optional<boost::json::object> tags;  // values are arrays of strings (as the spec says)
    std::optional<std::string> external_id;   // set by the writer, or by the daemon before sending
    // The data files to upload into the batch, then complete it and follow it to its final
    // status (a full entry); empty: the batch is only created.
    std::vector<data_file> files;
};

struct entry_parse {
    std::optional<batch_entry> value;
    std::string error;  // a reason fit for failed/<entry>.error.json
    // On an error found after a valid datasetId (a bad files list, tags, ...): that id, for the
    // failure record.
    std::string dataset_id;
};

// Largest entry file the daemon reads; larger ones are failed unread (1 500 files of long
// paths fit).
inline constexpr std::size_t max_entry_bytes = 512 * 1024;

// A bare id (surrounding whitespace ignored; 1-128 chars of [A-Za-z0-9_.-]) or a JSON object
// {"datasetId", "inputFormat"?, "tags"?, "externalId"?, "files"?}. Anything else is an error.
entry_parse parse_entry(std::string_view content);

// The entry as a JSON object that parse_entry() reads back to the same value. The daemon
// rewrites claimed entries in this form so their externalId survives a crash.
std::string serialize_entry(const batch_entry& e);

bool is_valid_external_id(std::string_view id);

}  // namespace aep
