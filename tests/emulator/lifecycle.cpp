// The emulator's full lifecycle: files uploaded into a batch (one PUT, or INITIALIZE, PATCH
// parts, HEAD and COMPLETE for a large one, with overlap and gap detection at the file's
// COMPLETE), the batch's COMPLETE, its passage through processing to a final status (per
// dataset knobs), abandonment, and the faults uploads may meet. Test code.
#include "emu_util.hpp"
#include "emulator.hpp"

#include "io/data_files.hpp"

#include <algorithm>
#include <charconv>

namespace aep::emu {
namespace {

std::string sha256_hex(const std::string& data) {
    aep::sha256 h;
    h.update(data.data(), data.size());
    return h.hex();
}

std::uint64_t newlines(const std::string& s) {
    return static_cast<std::uint64_t>(std::count(s.begin(), s.end(), '\n'));
}

// "bytes a-b/total" -> a, b, total.
bool content_range(const std::string& v, std::uint64_t& a, std::uint64_t& b, std::uint64_t& total) {
    if (v.rfind("bytes ", 0) != 0) return false;
    const auto dash = v.find('-', 6), slash = v.find('/', 6);
    if (dash == std::string::npos || slash == std::string::npos || slash < dash) return false;
    auto num = [&](std::size_t from, std::size_t to, std::uint64_t& out) {
        const auto r = std::from_chars(v.data() + from, v.data() + to, out);
        return r.ec == std::errc() && r.ptr == v.data() + to && to > from;
    };
    return num(6, dash, a) && num(dash + 1, slash, b) && num(slash + 1, v.size(), total) && a <= b &&
           b < total;
}

}  // namespace

std::string server::upload_fault() {
    for (const auto& [kind, p] : opts_.upload_faults) {
        if (kind == "reset-mid-body") continue;  // drawn in serve(), before the body
        if (std::uniform_real_distribution<double>(0, 1)(rng_) < p) {
            ++counters_.upload_faults;
            return kind;
        }
    }
    return {};
}

// /data/foundation/import/batches/{id}/datasets/{ds}/files/{path}[?action=INITIALIZE|COMPLETE]
server::reply server::file_call(const std::string& method,
                                const std::map<std::string, std::string>& headers,
                                const std::string& target, const std::string& body) {
    std::string why;
    if (!authorised(headers, why)) {
        ++counters_.unauthorized;
        return reply::json_reply(401, error_body("401013", why));
    }
    const auto q = target.find('?');
    const std::string path = target.substr(0, q);
    const std::string action = q == std::string::npos ? "" : parse_form(target.substr(q + 1))["action"];
    const std::string prefix = "/data/foundation/import/batches/";
    const auto ds_at = path.find("/datasets/", prefix.size());
    const auto files_at = path.find("/files/", ds_at == std::string::npos ? 0 : ds_at);
    if (ds_at == std::string::npos || files_at == std::string::npos)
        return reply::json_reply(404, error_body("404", "no such resource"));
    const std::string id = path.substr(prefix.size(), ds_at - prefix.size());
    const std::string ds = path.substr(ds_at + 10, files_at - ds_at - 10);
    const std::string remote = path.substr(files_at + 7);
    if (target.size() >= 2000) return reply::json_reply(414, error_body("414", "URL too long"));
    json::object* b = nullptr;
    for (auto& x : batches_) {
        if (x.at("id").as_string() == id && x.at("sandbox").as_string() == header(headers, "x-sandbox-name"))
            b = &x;
    }
    if (!b) return reply::json_reply(404, error_body("404", "batch not found"));
    bool ds_ok = false;
    for (const auto& o : b->at("relatedObjects").as_array()) ds_ok = ds_ok || o.at("id").as_string() == ds;
    if (!ds_ok) return reply::json_reply(404, error_body("404", "dataset not in this batch"));
    refresh_status(*b);
    if (remote.empty() || remote.find("..") != std::string::npos || remote.front() == '/')
        return reply::json_reply(400, error_body("400", "bad file path"));
    auto& files = files_[id];
    const std::string key = ds + "/" + remote;
    if (method == "HEAD") {
        const auto it = files.find(key);
        if (it == files.end()) return reply::json_reply(404, error_body("404", "no such file"));
        reply r;
        r.status = 200;
        std::string ranges;
        if (it->second.complete) {
            ranges = "0-" + std::to_string(it->second.size - 1);
        } else {
            std::uint64_t start = 0, end = 0;
            bool open = false;
            for (const auto& [first, bytes] : it->second.parts) {
                const std::uint64_t last = first + bytes.size() - 1;
                if (open && first <= end + 1) {
                    end = std::max(end, last);
                    continue;
                }
                if (open) ranges += (ranges.empty() ? "" : ",") + std::to_string(start) + "-" + std::to_string(end);
                start = first;
                end = last;
                open = true;
            }
            if (open) ranges += (ranges.empty() ? "" : ",") + std::to_string(start) + "-" + std::to_string(end);
        }
        if (!ranges.empty()) r.headers.emplace_back("Range", "bytes=" + ranges);
        return r;
    }
    if (b->at("status").as_string() != "loading")
        return reply::json_reply(400, error_body("400", "the batch is not loading: no more files"));
    // reset-mid-body is acted out while the body is read (serve()); here only the answers.
    const std::string fault = action == "COMPLETE" || method == "PUT" || method == "PATCH" ? upload_fault() : "";
    if (fault == "503" || fault == "500") return reply::json_reply(std::stoul(fault), error_body(fault, "injected"));
    if (fault == "429") {
        auto r = reply::json_reply(429, error_body("429", "too many requests"));
        r.headers.emplace_back("Retry-After", "1");
        return r;
    }
    if (method == "PUT") {
        if (header(headers, "content-type") != "application/octet-stream")
            return reply::json_reply(415, error_body("415", "content-type must be application/octet-stream"));
        if (body.size() > 256'000'000) return reply::json_reply(413, error_body("413", "over 256 MB: use parts"));
        ++counters_.uploads;
        counters_.upload_bytes += body.size();
        const bool existed = files.count(key) > 0;
        auto& f = files[key];
        f = stored_file{};
        f.size = body.size();
        f.sha256 = sha256_hex(body);
        f.records = newlines(body);
        f.complete = true;
        return reply::json_reply(existed ? 200 : 201, json::object{});
    }
    if (method == "POST" && action == "INITIALIZE") {
        auto& f = files[key];
        f = stored_file{};
        f.large = true;
        return reply::json_reply(201, json::object{});
    }
    const auto it = files.find(key);
    if (it == files.end() || !it->second.large)
        return reply::json_reply(404, error_body("404", "no large file initialized at this path"));
    stored_file& f = it->second;
    if (method == "PATCH") {
        if (header(headers, "content-type") != "application/octet-stream")
            return reply::json_reply(415, error_body("415", "content-type must be application/octet-stream"));
        std::uint64_t a = 0, z = 0, total = 0;
        if (!content_range(header(headers, "content-range"), a, z, total) || z - a + 1 != body.size())
            return reply::json_reply(400, error_body("400", "Content-Range does not match the body"));
        if (body.size() > 512'000'000) return reply::json_reply(413, error_body("413", "part over 512000000"));
        if (f.complete) return reply::json_reply(400, error_body("400", "the file is complete"));
        ++counters_.uploads;
        counters_.upload_bytes += body.size();
        // An overlap is told only at the file's COMPLETE, as the API does.
        for (const auto& [first, bytes] : f.parts) {
            if (a <= first + bytes.size() - 1 && first <= z) f.overlap = true;
        }
        f.parts[a] = body;
        f.total = total;
        reply r;
        r.status = 200;
        r.headers.emplace_back("Range", "bytes=" + std::to_string(a) + "-" + std::to_string(z));
        return r;
    }
    if (method == "POST" && action == "COMPLETE") {
        if (f.complete) return reply::json_reply(200, json::object{});  // a repeat: as before
        if (f.overlap) return reply::json_reply(400, error_body("400", "overlapping parts"));
        std::string all;
        for (const auto& [first, bytes] : f.parts) {
            if (first != all.size()) return reply::json_reply(400, error_body("400", "a part is missing"));
            all += bytes;
        }
        if (all.empty() || all.size() != f.total)
            return reply::json_reply(400, error_body("400", "a part is missing"));
        f.size = all.size();
        f.sha256 = sha256_hex(all);
        f.records = newlines(all);
        f.complete = true;
        f.parts.clear();
        return reply::json_reply(200, json::object{});
    }
    return reply::json_reply(405, error_body("405", "method not allowed"));
}

server::reply server::complete_batch(json::object& b) {
    refresh_status(b);
    const std::string id(b.at("id").as_string());
    const std::string status(b.at("status").as_string());
    if (status != "loading") {
        // Safe to retry: a batch already completed answers as the first time.
        if (completed_at_.count(id)) return reply::json_reply(200, json::object{});
        return reply::json_reply(400, error_body("400", "the batch is " + status));
    }
    const std::string fault = upload_fault();
    if (fault == "503" || fault == "500") return reply::json_reply(std::stoul(fault), error_body(fault, "injected"));
    if (fault == "429") {
        auto r = reply::json_reply(429, error_body("429", "too many requests"));
        r.headers.emplace_back("Retry-After", "1");
        return r;
    }
    for (const auto& [key, f] : files_[id]) {
        if (!f.complete) return reply::json_reply(400, error_body("400", "file " + key + " is not complete"));
    }
    completed_at_[id] = now_ms();
    b["status"] = "processing";
    b["updated"] = now_ms();
    ++counters_.batches_completed;
    if (fault == "reset-after-complete") {
        // Accepted, and the answer lost: the client cannot know.
        reply r;
        r.act = reply::action::reset;
        return r;
    }
    return reply::json_reply(200, json::object{});
}

void server::refresh_status(json::object& b) {
    const std::string id(b.at("id").as_string());
    const std::string status(b.at("status").as_string());
    const auto now = now_ms();
    std::string ds;
    if (const auto& rel = b.at("relatedObjects").as_array(); !rel.empty()) ds = rel[0].at("id").as_string();
    const auto knob = opts_.dataset_outcomes.count(ds) ? opts_.dataset_outcomes.at(ds) : std::string();
    if (status == "loading") {
        const bool abandon = knob == "abandoned" ||
                             (opts_.abandon_after.count() > 0 && now - b.at("created").as_int64() >= opts_.abandon_after.count());
        if (abandon && !completed_at_.count(id)) {
            b["status"] = "abandoned";
            b["updated"] = now;
        }
        return;
    }
    if (status != "processing" || now - completed_at_[id] < opts_.processing_time.count()) return;
    std::uint64_t records = 0;
    for (const auto& [key, f] : files_[id]) records += f.records;
    b["recordCount"] = records;
    b["updated"] = now;
    b["completed"] = now;
    if (knob == "failed") {
        b["status"] = "failed";
        b["failedRecordCount"] = records;
        b["errors"] = json::array{json::object{{"code", "INGEST-1212-400"},
                                               {"description", "Encountered 1 error(s) in the data. Check the dataset's schema."},
                                               {"rows", json::array{"1"}}}};
    } else if (knob == "stalled") {
        b["status"] = "stalled";
    } else if (knob.rfind("partial:", 0) == 0) {
        b["status"] = "success";
        b["failedRecordCount"] = std::stoull(knob.substr(8));
        b["errors"] = json::array{json::object{{"code", "INGEST-1103-400"},
                                               {"description", "Some records failed validation."}}};
    } else {
        b["status"] = "success";
        b["failedRecordCount"] = 0;
    }
}

json::object server::stored_files() const {
    json::object out;
    for (const auto& [id, files] : files_) {
        json::object o;
        for (const auto& [key, f] : files) {
            o[key] = json::object{{"size", f.size}, {"sha256", f.sha256}, {"large", f.large},
                                  {"complete", f.complete}};
        }
        out[id] = std::move(o);
    }
    return out;
}

}  // namespace aep::emu
