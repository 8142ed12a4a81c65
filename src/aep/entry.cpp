#include "aep/entry.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace aep {
namespace {

std::string_view trim(std::string_view s) {
    const char* ws = " \t\r\n\f\v";
    auto b = s.find_first_not_of(ws);
    if (b == std::string_view::npos) return {};
    auto e = s.find_last_not_of(ws);
    return s.substr(b, e - b + 1);
}

entry_parse fail(std::string reason, std::string dataset_id = {}) {
    entry_parse p;
    p.error = std::move(reason);
    p.dataset_id = std::move(dataset_id);
    return p;
}

}  // namespace

bool is_valid_external_id(std::string_view id) {
    if (id.empty() || id.size() > 256) return false;
    for (unsigned char c : id) {
        if (c <= 0x20 || c >= 0x7f) return false;
    }
    return true;
}

namespace {

// inputFormat: {"format", "isMultiLineJson"?}. Returns why it is wrong, or nothing.
std::string read_input_format(const boost::json::value& f, input_format& fmt) {
    if (!f.is_object()) return "inputFormat must be an object";
    bool has_format = false;
    for (const auto& kv : f.get_object()) {
        if (kv.key() == "format") {
            auto norm =
                kv.value().is_string() ? normalize_format(kv.value().get_string()) : std::nullopt;
            if (!norm) return "inputFormat.format must be one of JSON, Parquet, CSV";
            fmt.format = *norm;
            has_format = true;
        } else if (kv.key() == "isMultiLineJson") {
            if (!kv.value().is_bool()) return "inputFormat.isMultiLineJson must be a boolean";
            fmt.is_multi_line_json = kv.value().get_bool();
        } else {
            return "unknown key in inputFormat (known: format, isMultiLineJson)";
        }
    }
    if (!has_format) return "inputFormat.format is required when inputFormat is given";
    return {};
}

// tags: an object of string arrays. Returns why it is wrong, or nothing.
std::string check_tags(const boost::json::value& t) {
    if (!t.is_object()) return "tags must be an object of string arrays";
    for (const auto& kv : t.get_object()) {
        if (!kv.value().is_array()) return "tags values must be arrays of strings";
        for (const auto& item : kv.value().get_array()) {
            if (!item.is_string()) return "tags values must be arrays of strings";
        }
    }
    return {};
}

}  // namespace

entry_parse parse_entry(std::string_view content) {
    if (content.size() > max_entry_bytes) return fail("entry is larger than 512 KiB");
    const auto text = trim(content);
    if (text.empty()) return fail("entry is empty");
    if (text.front() != '{') {
        if (!is_valid_dataset_id(text)) {
            return fail("not a dataset id (1-128 characters of [A-Za-z0-9_.-]) nor a JSON object");
        }
        entry_parse p;
        p.value = batch_entry{std::string(text), std::nullopt, std::nullopt, std::nullopt};
        return p;
    }

    boost::system::error_code ec;
    auto jv = boost::json::parse(text, ec);
    if (ec) return fail("invalid JSON: " + ec.message());
    if (!jv.is_object()) return fail("JSON entry must be an object");
    const auto& obj = jv.as_object();

    batch_entry e;
    for (const auto& kv : obj) {
        const auto key = kv.key();
        if (key != "datasetId" && key != "inputFormat" && key != "tags" && key != "externalId" &&
            key != "files") {
            return fail(
                "unknown key in JSON entry (known: datasetId, inputFormat, tags, externalId, "
                "files)");
        }
    }
    const auto* ds = obj.if_contains("datasetId");
    if (!ds) return fail("JSON entry has no datasetId");
    if (!ds->is_string() || !is_valid_dataset_id(ds->get_string())) {
        return fail("datasetId must be 1-128 characters of [A-Za-z0-9_.-]");
    }
    e.dataset_id = std::string(ds->get_string());

    if (const auto* f = obj.if_contains("inputFormat")) {
        input_format fmt;
        if (auto why = read_input_format(*f, fmt); !why.empty()) return fail(why, e.dataset_id);
        e.format = fmt;
    }

    if (const auto* t = obj.if_contains("tags")) {
        if (auto why = check_tags(*t); !why.empty()) return fail(why, e.dataset_id);
        e.tags = t->get_object();
    }

    if (const auto* x = obj.if_contains("externalId")) {
        if (!x->is_string() || !is_valid_external_id(x->get_string())) {
            return fail("externalId must be 1-256 printable ASCII characters without spaces",
                        e.dataset_id);
        }
        e.external_id = std::string(x->get_string());
    }
    if (const auto* f = obj.if_contains("files")) {
        if (auto why = read_files(*f, e.files); !why.empty()) return fail(why, e.dataset_id);
    }
    entry_parse p;
    p.value = std::move(e);
    return p;
}

std::string serialize_entry(const batch_entry& e) {
    boost::json::object o;
    o["datasetId"] = e.dataset_id;
    if (e.format) {
        boost::json::object f;
        f["format"] = e.format->format;
        if (e.format->is_multi_line_json) f["isMultiLineJson"] = *e.format->is_multi_line_json;
        o["inputFormat"] = std::move(f);
    }
    if (e.tags) o["tags"] = *e.tags;
    if (e.external_id) o["externalId"] = *e.external_id;
    if (!e.files.empty()) o["files"] = files_json(e.files);
    return boost::json::serialize(o) + "\n";
}

}  // namespace aep
