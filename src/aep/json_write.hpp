// JSON text written directly, for the request bodies and records made once per entry (faster
// than building a boost::json::value and serializing it, with the same escaping).
// Owns: string escaping for those writers. Pure.
#pragma once

#include <string>
#include <string_view>

namespace aep {

// Appends `v` as a JSON string, escaped by Boost.JSON's serializer (as the JSON log lines are).
// `v` must be valid UTF-8: everything but the entry's name is (checked configuration, parsed
// JSON, our own ids), and the name goes through valid_utf8 first.
void append_json_string(std::string& out, std::string_view v);
// The same, or null when `v` is empty.
void append_json_string_or_null(std::string& out, std::string_view v);

}  // namespace aep
