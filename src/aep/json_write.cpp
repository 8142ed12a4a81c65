#include "aep/json_write.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string_view.hpp>

#include <algorithm>

namespace aep {

void append_json_string(std::string& out, std::string_view v) {
    // Printable ASCII without quotes or backslashes (ids, names, timestamps: nearly every value)
    // is written as it is; anything else is escaped by Boost.JSON.
    const bool plain = std::all_of(
        v.begin(), v.end(), [](char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; });
    if (plain) {
        out += '"';
        out += v;
        out += '"';
    } else {
        out += boost::json::serialize(boost::json::string_view(v.data(), v.size()));
    }
}

void append_json_string_or_null(std::string& out, std::string_view v) {
    if (v.empty()) {
        out += "null";
    } else {
        append_json_string(out, v);
    }
}

}  // namespace aep
