// The only file that knows yaml-cpp: turns YAML text into the config aggregate, reporting
// unknown keys and wrong types with their key paths, then runs validate().
#include "config/config.hpp"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <variant>
#include <vector>

namespace aep {
namespace {

class reader {
  public:
    explicit reader(validation_result& r) : r_(r) {}

    // Reports keys of `node` not in `allowed`, and keys given twice (yaml-cpp would read the
    // first and drop the other without a word); returns false when node is not a map.
    bool check_map(const YAML::Node& node, const std::string& path,
                   const std::vector<const char*>& allowed) {
        // A section whose keys are all commented out is empty, not wrong.
        if (node.IsNull()) return false;
        if (!node.IsMap()) {
            error(path, "must be a mapping");
            return false;
        }
        std::set<std::string> ok(allowed.begin(), allowed.end());
        std::map<std::string, int> lines;  // each key's first line
        for (const auto& kv : node) {
            const std::string key = kv.first.Scalar();
            const int line = kv.first.Mark().line + 1;
            if (const auto [at, first] = lines.emplace(key, line); !first) {
                error(join(path, key), "is given twice, at lines " + std::to_string(at->second) +
                                           " and " + std::to_string(line) +
                                           "; keep one (only the first would be read)");
                continue;
            }
            if (!ok.count(key)) {
                std::string known;
                for (const auto* k : allowed) known += std::string(known.empty() ? "" : ", ") + k;
                error(join(path, key), "unknown key (known keys: " + known + ")");
            }
        }
        return true;
    }

    void str(const YAML::Node& parent, const std::string& path, const char* key, std::string& out) {
        const auto n = parent[key];
        if (!n) return;
        if (!n.IsScalar()) return error(join(path, key), "must be a string");
        out = n.Scalar();
    }

    // A scalar read as T (true), or absent, or `wrong` at its key path (false).
    template <class T>
    bool scalar(const YAML::Node& parent, const std::string& path, const char* key, T& out,
                const char* wrong) {
        const auto n = parent[key];
        if (!n) return false;
        try {
            if (!n.IsScalar()) throw YAML::Exception(n.Mark(), "");
            out = n.as<T>();
            return true;
        } catch (const YAML::Exception&) {
            error(join(path, key), wrong);
            return false;
        }
    }

    void integer(const YAML::Node& parent, const std::string& path, const char* key, int& out) {
        scalar(parent, path, key, out, "must be an integer");
    }

    void boolean(const YAML::Node& parent, const std::string& path, const char* key,
                 std::optional<bool>& out) {
        bool v = false;
        if (scalar(parent, path, key, v, "must be true or false")) out = v;
    }

    void boolean(const YAML::Node& parent, const std::string& path, const char* key, bool& out) {
        std::optional<bool> v;
        boolean(parent, path, key, v);
        if (v) out = *v;
    }

    void duration(const YAML::Node& parent, const std::string& path, const char* key,
                  std::chrono::milliseconds& out) {
        const auto n = parent[key];
        if (!n) return;
        auto d = n.IsScalar() ? parse_duration(n.Scalar()) : std::nullopt;
        if (!d) return error(join(path, key), "must be a duration such as 250ms, 30s, 5m or 1h");
        out = *d;
    }

    void string_list(const YAML::Node& parent, const std::string& path, const char* key,
                     std::vector<std::string>& out) {
        const auto n = parent[key];
        if (!n) return;
        if (!n.IsSequence()) return error(join(path, key), "must be a list of strings");
        out.clear();
        for (std::size_t i = 0; i < n.size(); ++i) {
            if (!n[i].IsScalar()) {
                error(join(path, key) + "[" + std::to_string(i) + "]", "must be a string");
            } else {
                out.push_back(n[i].Scalar());
            }
        }
    }

    // One key of a section and where its value goes; the type says how it is read.
    // A std::uint64_t is a size with its unit (parse_size).
    using target = std::variant<std::string*, int*, std::chrono::milliseconds*,
                                std::vector<std::string>*, bool*, std::uint64_t*>;
    struct field {
        const char* key;
        target into;
    };

    // Reads the section `name` of root: a mapping of exactly these keys (an unknown one is
    // reported with the known ones). Absent: `required` is reported when given.
    void section(const YAML::Node& root, const char* name, std::initializer_list<field> fields,
                 const char* required = nullptr) {
        const auto n = root[name];
        if (!n) {
            if (required) error(name, required);
            return;
        }
        std::vector<const char*> keys;
        for (const auto& f : fields) keys.push_back(f.key);
        if (!check_map(n, name, keys)) return;
        for (const auto& f : fields) {
            std::visit([&](auto* out) { read(n, name, f.key, *out); }, f.into);
        }
    }

    void input_fmt(const YAML::Node& parent, const std::string& path, input_format& out) {
        const auto n = parent["input_format"];
        if (!n) return;
        const std::string p = join(path, "input_format");
        if (!check_map(n, p, {"format", "is_multi_line_json"})) return;
        std::string f = out.format;
        str(n, p, "format", f);
        auto norm = normalize_format(f);
        out.format = norm ? *norm : f;  // validate() reports an unknown format
        boolean(n, p, "is_multi_line_json", out.is_multi_line_json);
    }

    void read(const YAML::Node& n, const std::string& p, const char* k, std::string& out) {
        str(n, p, k, out);
    }
    void read(const YAML::Node& n, const std::string& p, const char* k, int& out) {
        integer(n, p, k, out);
    }
    void read(const YAML::Node& n, const std::string& p, const char* k,
              std::chrono::milliseconds& out) {
        duration(n, p, k, out);
    }
    void read(const YAML::Node& n, const std::string& p, const char* k,
              std::vector<std::string>& out) {
        string_list(n, p, k, out);
    }
    void read(const YAML::Node& n, const std::string& p, const char* k, bool& out) {
        boolean(n, p, k, out);
    }
    void read(const YAML::Node& n, const std::string& p, const char* k, std::uint64_t& out) {
        const auto v = n[k];
        if (!v) return;
        auto size = v.IsScalar() ? parse_size(v.Scalar()) : std::nullopt;
        if (!size) return error(join(p, k), "must be a size such as 64MiB, 256MB or 0");
        out = *size;
    }

    void error(const std::string& path, const std::string& message) {
        r_.errors.push_back({path, message});
    }

    static std::string join(const std::string& path, const std::string& key) {
        return path.empty() ? key : path + "." + key;
    }

  private:
    validation_result& r_;
};

// queues: a list of maps.
void read_queues(reader& rd, const YAML::Node& root, config& cfg) {
    if (auto n = root["queues"]; n) {
        if (!n.IsSequence()) {
            rd.error("queues", "must be a list of queues");
        } else {
            for (std::size_t i = 0; i < n.size(); ++i) {
                const std::string p = "queues[" + std::to_string(i) + "]";
                queue_config q;
                if (rd.check_map(n[i], p,
                                 {"name", "spool", "sandbox", "input_format", "data_dir"})) {
                    rd.str(n[i], p, "name", q.name);
                    rd.str(n[i], p, "spool", q.spool);
                    rd.str(n[i], p, "data_dir", q.data_dir);
                    rd.str(n[i], p, "sandbox", q.sandbox);
                    rd.input_fmt(n[i], p, q.default_input_format);
                }
                cfg.queues.push_back(std::move(q));
            }
        }
    }
}

// log: format and level by name.
void read_log(reader& rd, const YAML::Node& root, config& cfg) {
    if (auto n = root["log"]; n && rd.check_map(n, "log", {"format", "level", "journal_fields"})) {
        std::string format = "text", level = "info";
        rd.boolean(n, "log", "journal_fields", cfg.log.journal_fields);
        rd.str(n, "log", "format", format);
        rd.str(n, "log", "level", level);
        if (format == "text") {
            cfg.log.format = log_format::text;
        } else if (format == "json") {
            cfg.log.format = log_format::json;
        } else {
            rd.error("log.format", "must be text or json");
        }
        if (level == "debug") {
            cfg.log.level = log_level::debug;
        } else if (level == "info") {
            cfg.log.level = log_level::info;
        } else if (level == "warning" || level == "warn") {
            cfg.log.level = log_level::warning;
        } else if (level == "error") {
            cfg.log.level = log_level::error;
        } else {
            rd.error("log.level", "must be one of debug, info, warning, error");
        }
    }
}

void read_config(const YAML::Node& root, config& cfg, validation_result& r) {
    reader rd(r);
    if (!root || root.IsNull()) {
        rd.error("", "the configuration is empty");
        return;
    }
    if (!rd.check_map(root, "",
                      {"platform", "auth", "tls", "http", "retry", "queues", "upload", "track",
                       "log", "metrics"}))
        return;

    // The plain sections, as tables of their keys (one key per entry).
    // clang-format off
    rd.section(root, "platform",
               {{"import_url", &cfg.platform.import_url},
                {"catalog_url", &cfg.platform.catalog_url},
                {"org_id", &cfg.platform.org_id},
                {"api_key", &cfg.platform.api_key}},
               "is required");
    auth_config& a = cfg.auth;
    rd.section(root, "auth",
               {{"token_url", &a.token_url}, {"client_id", &a.client_id},
                {"client_secret_file", &a.client_secret_file},
                {"client_secret_env", &a.client_secret_env},
                {"scopes", &a.scopes}, {"refresh_margin", &a.refresh_margin}},
               "is required");
    if (!root["queues"]) {
        rd.error("queues", "is required: list at least one queue");
    }
    rd.section(root, "tls",
               {{"ca_file", &cfg.tls.ca_file},
                {"client_cert", &cfg.tls.client_cert},
                {"client_key", &cfg.tls.client_key}});
    http_config& h = cfg.http;
    rd.section(root, "http",
               {{"concurrency", &h.concurrency}, {"request_timeout", &h.request_timeout},
                {"rate_limit", &h.rate_limit}, {"proxy", &h.proxy},
                {"proxy_credentials_file", &h.proxy_credentials_file},
                {"no_proxy", &h.no_proxy}, {"stop_grace", &h.stop_grace}});
    rd.section(root, "retry",
               {{"max_attempts", &cfg.retry.max_attempts},
                {"initial_backoff", &cfg.retry.initial_backoff},
                {"max_backoff", &cfg.retry.max_backoff},
                {"max_age", &cfg.retry.max_age},
                {"catalog_lag", &cfg.retry.catalog_lag}});
    // clang-format on

    read_queues(rd, root, cfg);
    // clang-format off
    rd.section(root, "upload",
               {{"concurrency", &cfg.upload.concurrency},
                {"large_file_threshold", &cfg.upload.large_file_threshold},
                {"part_size", &cfg.upload.part_size},
                {"max_rate", &cfg.upload.max_rate}});
    rd.section(root, "track",
               {{"poll_initial", &cfg.track.poll_initial},
                {"poll_max", &cfg.track.poll_max},
                {"max_wait", &cfg.track.max_wait}});
    // clang-format on

    rd.section(root, "metrics",
               {{"listen", &cfg.metrics.listen}, {"stall_after", &cfg.metrics.stall_after}});

    read_log(rd, root, cfg);
}

// The first line whose value opens a quote it does not close (a YAML syntax error is often
// reported lines later, where the quoted text finally ends): 0 when there is none. Only a hint
// for a syntax error already found: a quoted value may span lines in valid YAML.
int unclosed_quote_line(const std::string& text) {
    std::istringstream in(text);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
        auto at = line.find(": ");
        std::size_t v = at == std::string::npos ? line.find_first_not_of(" \t") : at + 2;
        if (at == std::string::npos && v != std::string::npos && line[v] == '-') v += 2;
        if (v == std::string::npos || v >= line.size()) continue;
        v = line.find_first_not_of(" \t", v);
        if (v == std::string::npos) continue;
        const char q = line[v];
        if (q != '"' && q != '\'') continue;
        bool closed = false;
        for (std::size_t i = v + 1; i < line.size() && !closed; ++i) {
            if (q == '"' && line[i] == '\\') {
                ++i;
            } else if (line[i] == q) {
                if (q == '\'' && i + 1 < line.size() && line[i + 1] == '\'') {
                    ++i;  // '' is a quote inside single quotes
                } else {
                    closed = true;
                }
            }
        }
        if (!closed) return n;
    }
    return 0;
}

}  // namespace

load_result parse_config_text(const std::string& yaml_text) {
    load_result out;
    YAML::Node root;
    try {
        root = YAML::Load(yaml_text);
    } catch (const YAML::Exception& e) {
        out.validation.errors.push_back({"", "YAML syntax error at line " +
                                                 std::to_string(e.mark.line + 1) + ", column " +
                                                 std::to_string(e.mark.column + 1) + ": " + e.msg});
        if (const int q = unclosed_quote_line(yaml_text); q > 0) {
            out.validation.errors.back().message +=
                " (line " + std::to_string(q) + " opens a quote that it does not close)";
        }
        return out;
    }
    validation_result shape;
    try {
        read_config(root, out.cfg, shape);
    } catch (const YAML::Exception& e) {
        shape.errors.push_back({"", std::string("unreadable configuration: ") + e.msg});
    }
    // Shape errors first, then the semantic rules, minus any that repeat a key already reported.
    auto semantic = validate(out.cfg);
    out.validation = shape;
    out.validation.warnings = semantic.warnings;
    for (auto& e : semantic.errors) {
        bool repeated = false;
        for (const auto& s : shape.errors)
            repeated = repeated || (!e.path.empty() && s.path == e.path);
        if (!repeated) out.validation.errors.push_back(std::move(e));
    }
    return out;
}

load_result load_config(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        load_result out;
        out.validation.errors.push_back(
            {"", path + ": cannot read the configuration file: " + std::strerror(errno)});
        return out;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    auto out = parse_config_text(ss.str());
    for (auto& e : out.validation.errors) {
        if (e.path.empty()) e.message = path + ": " + e.message;
    }
    return out;
}

}  // namespace aep
