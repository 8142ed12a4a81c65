#include "aep/records.hpp"

#include "aep/json_write.hpp"
#include "io/log.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace aep {

namespace {
void append_count(std::string& out, const char* key, const std::optional<std::int64_t>& v) {
    out += ",\"";
    out += key;
    out += "\":";
    out += v ? std::to_string(*v) : "null";
}

void append_full(std::string& out, const full_outcome& full) {
    out += ",\"files\":[";
    for (std::size_t i = 0; i < full.files.size(); ++i) {
        const auto& s = full.files[i];
        out += i ? ",{\"path\":" : "{\"path\":";
        append_json_string(out, valid_utf8(s.path));
        out += ",\"remote\":";
        append_json_string(out, s.remote);
        out += ",\"size\":" + std::to_string(s.size) + ",\"sha256\":";
        append_json_string(out, s.sha256);
        out += '}';
    }
    out += ']';
    append_count(out, "recordCount", full.status ? full.status->record_count : std::nullopt);
    append_count(out, "failedRecordCount",
                 full.status ? full.status->failed_record_count : std::nullopt);
    out += ",\"errors\":";
    out += full.status ? boost::json::serialize(full.status->errors) : "[]";
    out += ",\"completedAt\":";
    append_json_string_or_null(out, full.completed_at);
    out += ",\"finishedAt\":";
    append_json_string_or_null(out, full.finished_at);
}
}  // namespace

std::string done_record_text(const done_record_fields& f, const create_result& r,
                             const full_outcome* full) {
    std::string out;
    out.reserve(256 + r.response.size() + f.entry.size());
    out += "{\"queue\":";
    append_json_string(out, f.queue);
    out += ",\"entry\":";
    append_json_string(out, valid_utf8(f.entry));
    out += ",\"datasetId\":";
    append_json_string_or_null(out, f.dataset_id);
    out += ",\"externalId\":";
    append_json_string(out, f.external_id);
    out += ",\"batchId\":";
    append_json_string(out, r.batch_id);
    out += ",\"stagePath\":";
    append_json_string_or_null(out, r.stage_path);
    out += ",\"status\":";
    append_json_string(out, full && full->status ? std::string_view(full->status->status)
                                                 : std::string_view(r.status));
    out += ",\"attempts\":";
    out += std::to_string(f.attempts);
    out += ",\"createdAt\":";
    append_json_string(out, f.created_at);
    if (full) append_full(out, *full);
    if (f.recovered) out += ",\"recovered\":true";
    out += ",\"response\":";
    out += r.response.empty() ? std::string_view("null") : std::string_view(r.response);
    out += "}\n";
    return out;
}

std::string failure_record_text(const failure_record_fields& f) {
    boost::json::object rec;
    rec["queue"] = f.queue;
    rec["entry"] = valid_utf8(f.entry);
    if (f.dataset_id.empty()) {
        rec["datasetId"] = nullptr;
    } else {
        rec["datasetId"] = f.dataset_id;
    }
    if (f.external_id) rec["externalId"] = *f.external_id;
    rec["reason"] = valid_utf8(f.reason);
    if (f.http_status) {
        rec["httpStatus"] = *f.http_status;
    } else {
        rec["httpStatus"] = nullptr;
    }
    if (f.response_body.empty()) {
        rec["responseBody"] = nullptr;
    } else {
        rec["responseBody"] = valid_utf8(f.response_body);
    }
    if (f.request_id.empty()) {
        rec["requestId"] = nullptr;
    } else {
        rec["requestId"] = valid_utf8(f.request_id);
    }
    rec["attempts"] = f.attempts;
    if (!f.stage.empty()) {
        rec["stage"] = f.stage;
        rec["batchId"] = f.batch_id.empty() ? boost::json::value(nullptr) : boost::json::value(f.batch_id);
        rec["status"] = f.status ? boost::json::value(f.status->status) : boost::json::value(nullptr);
        rec["errors"] = f.status ? f.status->errors : boost::json::array();
        if (!f.file.empty()) rec["file"] = valid_utf8(f.file);
    }
    rec["failedAt"] = f.failed_at;
    return boost::json::serialize(rec) + "\n";
}

bool is_record_of(std::string_view text, std::string_view external_id) {
    // A record starts with '{'; a bare dataset id never does, so most entries stop here.
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos || text[first] != '{') return false;
    boost::system::error_code ec;
    auto jv = boost::json::parse(text, ec);
    if (ec || !jv.is_object()) return false;
    const auto& o = jv.as_object();
    const auto* x = o.if_contains("externalId");
    const auto* b = o.if_contains("batchId");
    return x && x->is_string() && x->get_string() == external_id && b && b->is_string();
}

bool done_record_matches(const spool& sp, const std::string& name, const std::string& external_id) {
    for (const auto& text : sp.done_records(name, external_id)) {
        if (is_record_of(text, external_id)) return true;
    }
    return false;
}

}  // namespace aep
