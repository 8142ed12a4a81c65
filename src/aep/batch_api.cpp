#include "aep/batch_api.hpp"

#include "aep/json_write.hpp"
#include "io/log.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>

namespace aep {

std::string create_batch_body(const batch_entry& e, const input_format& queue_default) {
    // Written directly (one per request), in the order Boost.JSON's serializer wrote it.
    const input_format& f = e.format ? *e.format : queue_default;
    std::string out;
    out.reserve(160);
    out += "{\"datasetId\":";
    append_json_string(out, e.dataset_id);
    out += ",\"inputFormat\":{\"format\":";
    append_json_string(out, f.format);
    if (f.is_multi_line_json) {
        out += *f.is_multi_line_json ? ",\"isMultiLineJson\":true" : ",\"isMultiLineJson\":false";
    }
    out += "},\"externalId\":";
    append_json_string(out, e.external_id.value_or(""));
    if (e.tags && !e.tags->empty()) {
        out += ",\"tags\":";
        out += boost::json::serialize(*e.tags);
    }
    out += '}';
    return out;
}

http::request<http::string_body> api_request(http::verb verb, std::string target,
                                             const api_caller& as) {
    http::request<http::string_body> req{verb, std::move(target), 11};
    req.set(http::field::accept, "application/json");
    req.set(http::field::authorization, std::string("Bearer ").append(as.token));
    req.set("x-api-key", as.platform.api_key);
    req.set("x-gw-ims-org-id", as.platform.org_id);
    req.set("x-sandbox-name", as.sandbox);
    return req;
}

http::request<http::string_body> create_batch_request(const endpoint& import_ep,
                                                      const api_caller& as, std::string body) {
    auto req = api_request(http::verb::post, import_ep.target("/batches"), as);
    req.set(http::field::content_type, "application/json");
    req.body() = std::move(body);
    return req;
}

http::request<http::string_body> abort_batch_request(const endpoint& import_ep,
                                                     const api_caller& as,
                                                     const std::string& batch_id) {
    return api_request(http::verb::post,
                       import_ep.target("/batches/" + percent_encode(batch_id)) + "?action=ABORT",
                       as);
}

namespace {

// Fills batch_id, status and stage_path from a Batch object.
bool read_batch(const boost::json::object& o, std::string_view fallback_id, create_result& r) {
    if (const auto* id = o.if_contains("id"); id && id->is_string() && !id->get_string().empty()) {
        r.batch_id = std::string(id->get_string());
    } else {
        r.batch_id = std::string(fallback_id);
    }
    if (r.batch_id.empty()) return false;
    if (const auto* st = o.if_contains("status"); st && st->is_string()) {
        r.status = std::string(st->get_string());
    }
    if (const auto* c = o.if_contains("created"); c && c->is_int64()) r.created_ms = c->get_int64();
    if (const auto* tags = o.if_contains("tags"); tags && tags->is_object()) {
        if (const auto* sp = tags->get_object().if_contains("acp_stagePath");
            sp && sp->is_array() && !sp->get_array().empty() && sp->get_array()[0].is_string()) {
            r.stage_path = std::string(sp->get_array()[0].get_string());
        }
    }
    if (const auto* rel = o.if_contains("relatedObjects"); rel && rel->is_array()) {
        for (const auto& ro : rel->get_array()) {
            if (!ro.is_object()) continue;
            const auto* type = ro.get_object().if_contains("type");
            const auto* id = ro.get_object().if_contains("id");
            if (type && type->is_string() && type->get_string() == "dataSet" && id &&
                id->is_string()) {
                r.dataset_id = std::string(id->get_string());
                break;
            }
        }
    }
    return true;
}

}  // namespace

http::request<http::string_body> catalog_lookup_request(const endpoint& catalog_ep,
                                                        const api_caller& as,
                                                        const std::string& external_id) {
    // Every batch under the id, oldest first (a twin sent after an unknown outcome shows).
    return api_request(http::verb::get,
                       catalog_ep.target("/batches") + "?externalId=" +
                           percent_encode(external_id) + "&orderBy=asc:created&limit=100",
                       as);
}

http::request<http::string_body> catalog_probe_request(const endpoint& catalog_ep,
                                                       const api_caller& as) {
    return api_request(http::verb::get, catalog_ep.target("/batches") + "?limit=1", as);
}

lookup_result parse_catalog_lookup(unsigned status, std::string_view body,
                                   std::string_view external_id) {
    lookup_result r;
    if (status == 401) {
        r.outcome = lookup_result::kind::unauthorized;
        r.reason = "catalog look-up: HTTP 401";
        return r;
    }
    if (status == 404) {
        r.outcome = lookup_result::kind::not_found;
        return r;
    }
    if (status != 200) {
        r.reason = "catalog look-up: HTTP " + std::to_string(status);
        return r;
    }
    boost::system::error_code ec;
    auto jv = boost::json::parse(body, ec);
    if (ec || !jv.is_object()) {
        r.reason = "catalog look-up: the answer is not a JSON object";
        return r;
    }
    for (const auto& kv : jv.as_object()) {
        if (!kv.value().is_object()) continue;
        const auto& b = kv.value().get_object();
        const auto* x = b.if_contains("externalId");
        if (!x || !x->is_string() || x->get_string() != external_id) continue;
        create_result found;
        found.outcome = create_result::kind::created;
        if (!read_batch(b, kv.key(), found)) continue;
        found.response = boost::json::serialize(kv.value());
        r.batches.push_back(std::move(found));
    }
    if (r.batches.empty()) {
        r.outcome = lookup_result::kind::not_found;
        return r;
    }
    // The first created first (ties: by id, so that every daemon picks the same one).
    std::stable_sort(r.batches.begin(), r.batches.end(), [](const auto& a, const auto& b) {
        return a.created_ms != b.created_ms ? a.created_ms < b.created_ms : a.batch_id < b.batch_id;
    });
    r.outcome = lookup_result::kind::found;
    r.batch = r.batches.front();
    return r;
}

std::optional<std::chrono::milliseconds> parse_retry_after(
    std::string_view v, std::chrono::system_clock::time_point now) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    if (v.empty()) return std::nullopt;
    if (v.front() >= '0' && v.front() <= '9') {
        long long secs = 0;
        auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), secs);
        if (ec != std::errc() || p != v.data() + v.size()) return std::nullopt;
        secs = std::min<long long>(secs, 24 * 3600);
        return std::chrono::milliseconds(secs * 1000);
    }
    // IMF-fixdate, e.g. "Wed, 21 Oct 2015 07:28:00 GMT".
    std::tm tm{};
    const std::string s(v);
    const char* end = strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end != '\0') return std::nullopt;
    // Seconds arithmetic on time_t, clamped before any conversion: a date in year 9015 must not
    // overflow the clock's nanosecond representation (found by fuzz_http_response).
    const long long when = static_cast<long long>(timegm(&tm));
    const long long now_s = static_cast<long long>(std::chrono::system_clock::to_time_t(now));
    const long long delta = std::clamp(when - now_s, 0LL, 24LL * 3600);
    return std::chrono::milliseconds(delta * 1000);
}

std::string body_excerpt(std::string_view body) { return std::string(body.substr(0, 4096)); }

create_result classify_create_response(unsigned status, std::string_view body,
                                       std::string_view retry_after_header,
                                       std::chrono::system_clock::time_point now) {
    create_result r;
    if (status == 201) {
        // Parsed in a buffer on the stack: only a few strings are kept from it.
        unsigned char scratch[4096];
        boost::json::monotonic_resource mr(scratch, sizeof scratch);
        boost::system::error_code ec;
        auto jv = boost::json::parse(body, ec, &mr);
        if (ec || !jv.is_object()) {
            r.outcome = create_result::kind::ambiguous;
            r.reason = "201 Created with a body that is not a JSON object";
            return r;
        }
        const auto& o = jv.as_object();
        const auto* id = o.if_contains("id");
        if (!id || !id->is_string() || id->get_string().empty()) {
            r.outcome = create_result::kind::ambiguous;
            r.reason = "201 Created without a batch id";
            return r;
        }
        r.outcome = create_result::kind::created;
        read_batch(o, "", r);
        // A body that parsed is valid JSON and UTF-8: kept as it came unless it spans lines
        // (a record is one line).
        // (Two memchr scans: find_first_of calls memchr once per character of the body.)
        if (body.find('\n') == std::string_view::npos &&
            body.find('\r') == std::string_view::npos) {
            r.response = std::string(body);
        } else {
            r.response = boost::json::serialize(jv);
        }
        return r;
    }
    r.retry_after = parse_retry_after(retry_after_header, now);
    r.reason = "HTTP " + std::to_string(status);
    if (status == 401) {
        r.outcome = create_result::kind::unauthorized;
        r.reason += ": the access token was refused";
    } else if (status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
               status == 504) {
        r.outcome = create_result::kind::transient;
    } else if (status >= 400 && status < 500) {
        r.outcome = create_result::kind::permanent;
    } else if (status >= 500) {
        r.outcome = create_result::kind::transient;
    } else {
        r.outcome = create_result::kind::ambiguous;
        r.reason += ": unexpected status for a batch creation";
    }
    return r;
}

}  // namespace aep
