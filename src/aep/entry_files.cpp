#include "aep/entry_files.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <set>

namespace aep {
namespace {

// Calls each(component) for every '/'-separated part of p; stops at the first it refuses.
template <class Each>
std::string each_component(std::string_view p, Each each) {
    std::size_t at = 0;
    while (true) {
        const auto slash = p.find('/', at);
        const auto part = p.substr(at, slash == std::string_view::npos ? p.npos : slash - at);
        if (part.empty()) return "has an empty component (a '//' or a trailing '/')";
        if (part == "." || part == "..") return "has a '" + std::string(part) + "' component";
        if (auto why = each(part); !why.empty()) return why;
        if (slash == std::string_view::npos) return {};
        at = slash + 1;
    }
}

bool is_hex(std::string_view s) {
    for (char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

// One item: a path, or an object. `i` for the messages.
std::string read_item(const boost::json::value& v, std::size_t i, data_file& f) {
    const std::string at = "files[" + std::to_string(i) + "]";
    if (v.is_string()) {
        f.path = std::string(v.get_string());
    } else if (v.is_object()) {
        const auto& o = v.get_object();
        for (const auto& kv : o) {
            if (kv.key() != "path" && kv.key() != "remote" && kv.key() != "sha256")
                return at + ": unknown key '" + std::string(kv.key()) +
                       "' (known: path, remote, sha256)";
        }
        const auto* p = o.if_contains("path");
        if (!p || !p->is_string()) return at + ": path is required and must be a string";
        f.path = std::string(p->get_string());
        if (const auto* r = o.if_contains("remote")) {
            if (!r->is_string()) return at + ": remote must be a string";
            f.remote = std::string(r->get_string());
        }
        if (const auto* h = o.if_contains("sha256")) {
            if (!h->is_string() || h->get_string().size() != 64 || !is_hex(h->get_string()))
                return at + ": sha256 must be 64 hexadecimal digits";
            f.sha256 = lower(h->get_string());
        }
    } else {
        return at + " must be a path or an object {\"path\", \"remote\", \"sha256\"}";
    }
    if (auto why = local_path_problem(f.path); !why.empty()) return at + ": path " + why;
    const bool own_remote = v.is_object() && v.get_object().contains("remote");
    if (!own_remote) f.remote = f.path;
    if (auto why = remote_path_problem(f.remote); !why.empty()) {
        return at + (own_remote ? ": remote " : ": path, the file's name on AEP unless remote is given, ") +
               why;
    }
    return {};
}

}  // namespace

std::string local_path_problem(std::string_view p) {
    if (p.empty()) return "is empty";
    if (p.size() > 4096) return "is longer than 4096 bytes";
    if (p.front() == '/') return "must be relative to the queue's data_dir (it starts with '/')";
    for (unsigned char c : p) {
        if (c < 0x20 || c == 0x7f) return "has a control character";
    }
    return each_component(p, [](std::string_view) { return std::string(); });
}

std::string remote_path_problem(std::string_view p) {
    if (p.empty()) return "is empty";
    if (p.size() > 1024) return "is longer than 1024 bytes";
    if (p.front() == '/') return "must not start with '/'";
    return each_component(p, [](std::string_view part) {
        for (char c : part) {
            const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '=' || c == '-';
            if (!ok) return std::string("may hold only [A-Za-z0-9._=-] between its '/'s");
        }
        return std::string();
    });
}

std::string read_files(const boost::json::value& v, std::vector<data_file>& out) {
    if (!v.is_array()) return "files must be a list of paths or objects";
    const auto& a = v.get_array();
    if (a.empty()) return "files must list at least one file";
    if (a.size() > max_files_per_entry) {
        return "files lists " + std::to_string(a.size()) + " files; a batch takes at most " +
               std::to_string(max_files_per_entry);
    }
    out.clear();
    std::set<std::string> remotes;
    for (std::size_t i = 0; i < a.size(); ++i) {
        data_file f;
        if (auto why = read_item(a[i], i, f); !why.empty()) return why;
        if (!remotes.insert(f.remote).second) {
            return "files[" + std::to_string(i) + "]: another file goes to the same remote path '" +
                   f.remote + "' (one would replace the other)";
        }
        out.push_back(std::move(f));
    }
    return {};
}

boost::json::value files_json(const std::vector<data_file>& files) {
    boost::json::array a;
    for (const auto& f : files) {
        if (f.remote == f.path && !f.sha256) {
            a.emplace_back(f.path);
            continue;
        }
        boost::json::object o;
        o["path"] = f.path;
        if (f.remote != f.path) o["remote"] = f.remote;
        if (f.sha256) o["sha256"] = *f.sha256;
        a.emplace_back(std::move(o));
    }
    return a;
}

std::size_t upload_url_length(std::string_view import_url, std::string_view dataset_id,
                              std::string_view remote) {
    // {import_url}/batches/{batchId}/datasets/{datasetId}/files/{remote}?action=INITIALIZE
    constexpr std::size_t batch_id = 40;
    return import_url.size() + std::string_view("/batches/").size() + batch_id +
           std::string_view("/datasets/").size() + dataset_id.size() +
           std::string_view("/files/").size() + remote.size() +
           std::string_view("?action=INITIALIZE").size();
}

}  // namespace aep
