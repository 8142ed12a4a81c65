#include "aep/upload_api.hpp"

#include <boost/json/parse.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace aep {
namespace {

std::string file_path(const endpoint& ep, const file_target& t) {
    // The remote path is [A-Za-z0-9._=-] between '/'s (aep/entry_files): nothing to encode.
    return ep.target("/batches/") + std::string(t.batch_id) + "/datasets/" +
           percent_encode(t.dataset_id) + "/files/" + std::string(t.remote);
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

std::optional<std::uint64_t> number(std::string_view s) {
    s = trim(s);
    std::uint64_t v = 0;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
    return v;
}

std::optional<std::int64_t> count_of(const boost::json::object& o, const char* key) {
    const auto* v = o.if_contains(key);
    if (!v) return std::nullopt;
    if (v->is_int64()) return v->get_int64();
    if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
    return std::nullopt;
}

}  // namespace

http::request<http::string_body> file_put_request(const endpoint& import_ep, const api_caller& as,
                                                  const file_target& t, std::uint64_t size) {
    auto req = api_request(http::verb::put, file_path(import_ep, t), as);
    req.set(http::field::content_type, "application/octet-stream");
    req.content_length(size);
    return req;
}

http::request<http::string_body> file_part_request(const endpoint& import_ep, const api_caller& as,
                                                   const file_target& t, std::uint64_t first,
                                                   std::uint64_t last, std::uint64_t total) {
    auto req = api_request(http::verb::patch, file_path(import_ep, t), as);
    req.set(http::field::content_type, "application/octet-stream");
    req.set(http::field::content_range, content_range(first, last, total));
    req.content_length(last - first + 1);
    return req;
}

http::request<http::string_body> file_action_request(const endpoint& import_ep,
                                                     const api_caller& as, const file_target& t,
                                                     std::string_view action) {
    auto req = api_request(http::verb::post,
                           file_path(import_ep, t) + "?action=" + std::string(action), as);
    req.set(http::field::content_type, "application/json");  // required by the spec, no body
    req.content_length(0);
    return req;
}

http::request<http::string_body> file_head_request(const endpoint& import_ep, const api_caller& as,
                                                   const file_target& t) {
    return api_request(http::verb::head, file_path(import_ep, t), as);
}

http::request<http::string_body> batch_complete_request(const endpoint& import_ep,
                                                        const api_caller& as,
                                                        std::string_view batch_id) {
    auto req = api_request(http::verb::post,
                           import_ep.target("/batches/") + std::string(batch_id) + "?action=COMPLETE",
                           as);
    req.content_length(0);
    return req;
}

http::request<http::string_body> batch_status_request(const endpoint& catalog_ep,
                                                      const api_caller& as,
                                                      std::string_view batch_id) {
    return api_request(http::verb::get, catalog_ep.target("/batches/") + std::string(batch_id),
                       as);
}

call_outcome classify_call(unsigned status) {
    if (status >= 200 && status < 300) return call_outcome::ok;
    if (status == 401) return call_outcome::refresh;
    if (status == 408 || status == 429 || status >= 500) return call_outcome::transient;
    return call_outcome::permanent;
}

std::optional<byte_ranges> parse_received_ranges(std::string_view header) {
    std::string_view s = trim(header);
    byte_ranges out;
    if (s.empty()) return out;
    // "bytes=", "bytes ", or nothing before the ranges.
    if (s.size() >= 5 && std::equal(s.begin(), s.begin() + 5, "bytes", [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) == b;
        })) {
        s.remove_prefix(5);
        s = trim(s);
        if (!s.empty() && s.front() == '=') s.remove_prefix(1);
    }
    // A total after the ranges ("/1000" or "/*") says nothing about what was received.
    if (const auto slash = s.find('/'); slash != std::string_view::npos) s = s.substr(0, slash);
    while (true) {
        const auto comma = s.find(',');
        const auto item = trim(s.substr(0, comma));
        const auto dash = item.find('-');
        if (dash == std::string_view::npos) return std::nullopt;
        const auto a = number(item.substr(0, dash)), b = number(item.substr(dash + 1));
        if (!a || !b || *b < *a) return std::nullopt;
        out.emplace_back(*a, *b);
        if (comma == std::string_view::npos) break;
        s.remove_prefix(comma + 1);
    }
    std::sort(out.begin(), out.end());
    byte_ranges merged;
    for (const auto& r : out) {
        if (!merged.empty() && r.first <= merged.back().second + 1) {
            merged.back().second = std::max(merged.back().second, r.second);
        } else {
            merged.push_back(r);
        }
    }
    return merged;
}

std::string content_range(std::uint64_t first, std::uint64_t last, std::uint64_t total) {
    return "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" +
           std::to_string(total);
}

std::optional<std::pair<std::uint64_t, std::uint64_t>> next_part(const byte_ranges& received,
                                                                std::uint64_t total,
                                                                std::uint64_t part_size) {
    std::uint64_t at = 0;
    for (const auto& [a, b] : received) {  // sorted and merged
        if (a > at) break;
        at = std::max(at, b + 1);
    }
    if (at >= total || part_size == 0) return std::nullopt;
    std::uint64_t end = std::min(total, at + part_size);  // exclusive
    for (const auto& [a, b] : received) {
        if (a > at) {
            end = std::min(end, a);  // stop before the next range already received
            break;
        }
    }
    return std::pair{at, end - 1};
}

batch_status::kind classify_status(std::string_view status) {
    using k = batch_status::kind;
    if (status == "success" || status == "active" || status == "inactive" || status == "deleted")
        return k::succeeded;
    if (status == "failed" || status == "failure") return k::failed;
    if (status == "aborted") return k::aborted;
    if (status == "abandoned") return k::abandoned;
    if (status == "stalled") return k::stalled;
    return k::pending;
}

batch_status parse_batch_status(unsigned status, std::string_view body, std::string_view batch_id) {
    batch_status out;
    if (status != 200) {
        out.reason = "catalog status: HTTP " + std::to_string(status);
        return out;
    }
    boost::system::error_code ec;
    const auto v = boost::json::parse(body, ec);
    const boost::json::object* b = nullptr;
    if (!ec && v.is_object()) {
        if (const auto* inner = v.get_object().if_contains(batch_id); inner && inner->is_object())
            b = &inner->get_object();
    }
    const boost::json::value* st = b ? b->if_contains("status") : nullptr;
    if (!st || !st->is_string() || st->get_string().empty()) {
        out.reason = "catalog status: the answer holds no status for batch " + std::string(batch_id);
        return out;
    }
    out.status = std::string(st->get_string());
    out.k = classify_status(out.status);
    out.record_count = count_of(*b, "recordCount");
    out.failed_record_count = count_of(*b, "failedRecordCount");
    if (const auto* m = b->if_contains("metrics"); m && m->is_object()) {
        if (!out.record_count) out.record_count = count_of(m->get_object(), "recordCount");
        if (!out.failed_record_count)
            out.failed_record_count = count_of(m->get_object(), "failedRecordCount");
    }
    if (const auto* e = b->if_contains("errors"); e && e->is_array()) out.errors = e->get_array();
    return out;
}

}  // namespace aep
