#include "config/config.hpp"

#include "config/endpoint.hpp"
#include "config/proxy.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <utility>
#include <set>

namespace aep {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    if (i == 0 || i > 12) return std::nullopt;
    long long n = 0;
    std::from_chars(text.data(), text.data() + i, n);
    std::string_view unit = text.substr(i);
    using namespace std::chrono;
    if (unit == "ms") return milliseconds(n);
    if (unit == "s") return duration_cast<milliseconds>(seconds(n));
    if (unit == "m") return duration_cast<milliseconds>(minutes(n));
    if (unit == "h") return duration_cast<milliseconds>(hours(n));
    return std::nullopt;
}

namespace {
// The size units, largest first within each family.
constexpr std::pair<const char*, std::uint64_t> size_units[] = {
    {"TiB", 1ull << 40}, {"GiB", 1ull << 30}, {"MiB", 1ull << 20}, {"KiB", 1ull << 10},
    {"TB", 1000000000000ull}, {"GB", 1000000000ull}, {"MB", 1000000ull}, {"kB", 1000ull},
    {"KB", 1000ull}, {"B", 1ull}};
}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    if (i == 0 || i > 15) return std::nullopt;
    std::uint64_t n = 0;
    std::from_chars(text.data(), text.data() + i, n);
    const std::string_view unit = text.substr(i);
    if (unit.empty()) return n == 0 ? std::optional<std::uint64_t>(0) : std::nullopt;
    for (const auto& [name, factor] : size_units) {
        if (unit == name) {
            if (n > UINT64_MAX / factor) return std::nullopt;
            return n * factor;
        }
    }
    return std::nullopt;
}

std::string format_size(std::uint64_t bytes) {
    if (bytes == 0) return "0";
    // The unit that leaves the smallest whole number (kB is the spelling written, not KB).
    std::string best = std::to_string(bytes) + "B";
    std::uint64_t least = bytes;
    for (const auto& [name, factor] : size_units) {
        if (std::string_view(name) == "KB" || bytes % factor != 0 || bytes / factor >= least)
            continue;
        least = bytes / factor;
        best = std::to_string(least) + name;
    }
    return best;
}

bool is_valid_dataset_id(std::string_view id) {
    if (id.empty() || id.size() > 128) return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
    });
}

std::optional<std::string> normalize_format(std::string_view text) {
    std::string lower(text);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower == "json") return "JSON";
    if (lower == "parquet") return "Parquet";
    if (lower == "csv") return "CSV";
    return std::nullopt;
}

namespace {

bool is_name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}

bool is_sandbox_char(char c) {
    return std::islower(static_cast<unsigned char>(c)) ||
           std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '_';
}

bool has_control_chars(std::string_view s) {
    return std::any_of(s.begin(), s.end(),
                       [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

void check_url(validation_result& r, const std::string& path, const std::string& url) {
    if (url.empty()) {
        r.errors.push_back({path, "is required"});
        return;
    }
    auto ep = parse_endpoint(url);
    if (!ep.value) {
        r.errors.push_back({path, ep.error});
    } else if (ep.insecure) {
        r.warnings.push_back(path +
                             ": plain http:// to a loopback host; use only for local testing");
    }
}

// `where` tells where the real value is found, for a value still the example's placeholder.
void check_header_value(validation_result& r, const std::string& path, const std::string& v,
                        const char* where = nullptr) {
    if (v.empty()) {
        r.errors.push_back({path, "is required"});
    } else if (has_control_chars(v)) {
        r.errors.push_back({path, "must not contain control characters"});
    } else if (where && v.rfind("YOUR_", 0) == 0) {
        // config/aep-batchd.example.yaml's YOUR_ORG_ID@AdobeOrg, YOUR_CLIENT_ID.
        r.errors.push_back(
            {path, "is still the example's placeholder '" + v + "': put in " + where});
    }
}

}  // namespace

namespace {

void check_platform(const platform_config& c, validation_result& r) {
    check_url(r, "platform.import_url", c.import_url);
    check_url(r, "platform.catalog_url", c.catalog_url);
    check_header_value(r, "platform.org_id", c.org_id,
                       "your organization id (Developer Console, project, credential: ...@AdobeOrg)");
    check_header_value(r, "platform.api_key", c.api_key,
                       "the credential's client id (Developer Console, project, credential)");
}

void check_auth(const auth_config& c, validation_result& r) {
    check_url(r, "auth.token_url", c.token_url);
    check_header_value(r, "auth.client_id", c.client_id,
                       "the credential's client id (Developer Console, project, credential)");
    const bool has_file = !c.client_secret_file.empty();
    const bool has_env = !c.client_secret_env.empty();
    if (has_file && has_env) {
        r.errors.push_back({"auth", "set exactly one of client_secret_file and client_secret_env"});
    }  // neither: the systemd credential "client_secret" is used (checked when it is read)
    if (has_file && c.client_secret_file.front() != '/') {
        r.errors.push_back({"auth.client_secret_file", "must be an absolute path"});
    }
    if (c.scopes.empty()) r.errors.push_back({"auth.scopes", "must list at least one scope"});
    for (std::size_t i = 0; i < c.scopes.size(); ++i) {
        const auto& s = c.scopes[i];
        if (s.empty() || s.find_first_of(", \t\r\n") != std::string::npos) {
            r.errors.push_back({"auth.scopes[" + std::to_string(i) + "]",
                                "must be a non-empty scope name without commas or spaces"});
        }
    }
    if (c.refresh_margin.count() < 0) {
        r.errors.push_back({"auth.refresh_margin", "must not be negative"});
    }
}

void check_tls(const tls_config& c, validation_result& r) {
    for (const auto& [key, value] :
         {std::pair{"tls.ca_file", &c.ca_file}, std::pair{"tls.client_cert", &c.client_cert},
          std::pair{"tls.client_key", &c.client_key}}) {
        if (!value->empty() && value->front() != '/') {
            r.errors.push_back({key, "must be an absolute path"});
        }
    }
    if (c.client_cert.empty() != c.client_key.empty()) {
        r.errors.push_back({"tls", "set both client_cert and client_key, or neither"});
    }
}

void check_http(const http_config& c, validation_result& r) {
    if (c.concurrency <= 0) {
        r.errors.push_back({"http.concurrency", "must be > 0"});
    } else if (c.concurrency > 1024) {
        r.errors.push_back({"http.concurrency", "must be <= 1024"});
    }
    if (c.rate_limit < 0 || c.rate_limit > 1000000) {
        r.errors.push_back(
            {"http.rate_limit", "must be between 0 (no limit) and 1000000 requests per minute"});
    }
    if (!c.proxy_credentials_file.empty()) {
        if (c.proxy.empty()) {
            r.errors.push_back({"http.proxy_credentials_file", "needs http.proxy"});
        } else if (c.proxy_credentials_file.front() != '/') {
            r.errors.push_back({"http.proxy_credentials_file", "must be an absolute path"});
        }
    }
    if (!c.proxy.empty()) {
        std::string userinfo, why;
        if (!parse_proxy_url(c.proxy, userinfo, why)) {
            r.errors.push_back({"http.proxy", why});
        } else if (!userinfo.empty()) {
            r.errors.push_back(
                {"http.proxy", "put credentials in http.proxy_credentials_file, not in the URL"});
        }
    }
    if (c.stop_grace.count() < 0) {
        r.errors.push_back({"http.stop_grace", "must not be negative"});
    }
    if (c.request_timeout.count() <= 0) {
        r.errors.push_back({"http.request_timeout", "must be > 0"});
    }
}

void check_retry(const retry_config& c, validation_result& r) {
    if (c.max_attempts < 1 || c.max_attempts > 100) {
        r.errors.push_back({"retry.max_attempts", "must be between 1 and 100"});
    }
    if (c.initial_backoff.count() <= 0) {
        r.errors.push_back({"retry.initial_backoff", "must be > 0"});
    }
    if (c.max_backoff < c.initial_backoff) {
        r.errors.push_back({"retry.max_backoff", "must be >= retry.initial_backoff"});
    }
    if (c.catalog_lag.count() < 0 || c.catalog_lag > std::chrono::hours(1)) {
        r.errors.push_back({"retry.catalog_lag", "must be between 0s and 1h"});
    }
}

void check_upload(const upload_config& c, validation_result& r) {
    if (c.concurrency < 1 || c.concurrency > 64) {
        r.errors.push_back({"upload.concurrency", "must be between 1 and 64"});
    }
    if (c.large_file_threshold < 1 || c.large_file_threshold > 256'000'000) {
        r.errors.push_back({"upload.large_file_threshold",
                            "must be between 1B and 256MB (the API's limit for one PUT)"});
    }
    if (c.part_size < (1ull << 20) || c.part_size > 512'000'000) {
        r.errors.push_back({"upload.part_size", "must be between 1MiB and 512MB (512000000B)"});
    }
}

void check_track(const track_config& c, validation_result& r) {
    if (c.poll_initial.count() <= 0) r.errors.push_back({"track.poll_initial", "must be > 0"});
    if (c.poll_max < c.poll_initial) {
        r.errors.push_back({"track.poll_max", "must be >= track.poll_initial"});
    }
    if (c.max_wait.count() <= 0) r.errors.push_back({"track.max_wait", "must be > 0"});
}

void check_metrics(const metrics_config& c, validation_result& r) {
    if (!c.listen.empty()) {
        std::string why;
        if (!parse_listen_address(c.listen, why)) r.errors.push_back({"metrics.listen", why});
    }
    if (c.stall_after.count() <= 0) {
        r.errors.push_back({"metrics.stall_after", "must be > 0"});
    }
}

void check_queues(const std::vector<queue_config>& c, validation_result& r) {
    if (c.empty()) r.errors.push_back({"queues", "at least one queue is required"});
    std::set<std::string> names, spools;
    for (std::size_t i = 0; i < c.size(); ++i) {
        const auto& q = c[i];
        const std::string p = "queues[" + std::to_string(i) + "]";
        if (q.name.empty() || q.name.size() > 64 ||
            !std::all_of(q.name.begin(), q.name.end(), is_name_char)) {
            r.errors.push_back({p + ".name", "must be 1-64 characters of [A-Za-z0-9_-]"});
        } else if (!names.insert(q.name).second) {
            r.errors.push_back({p + ".name", "duplicate queue name '" + q.name + "'"});
        }
        if (q.spool.empty()) {
            r.errors.push_back({p + ".spool", "is required"});
        } else if (q.spool.front() != '/') {
            r.errors.push_back({p + ".spool", "must be an absolute path"});
        } else {
            if (!spools.insert(spool_identity(q.spool)).second) {
                r.errors.push_back({p + ".spool", "is used by another queue"});
            }
        }
        if (q.sandbox.empty()) {
            r.errors.push_back({p + ".sandbox", "is required (the x-sandbox-name, e.g. prod)"});
        } else if (q.sandbox.size() > 256 ||
                   !std::all_of(q.sandbox.begin(), q.sandbox.end(), is_sandbox_char)) {
            r.errors.push_back(
                {p + ".sandbox", "must be the all-lowercase sandbox name ([a-z0-9_-], 1-256)"});
        }
        if (!normalize_format(q.default_input_format.format)) {
            r.errors.push_back({p + ".input_format.format", "must be one of JSON, Parquet, CSV"});
        }
        if (!q.data_dir.empty() && q.data_dir.front() != '/') {
            r.errors.push_back({p + ".data_dir", "must be an absolute path"});
        }
    }
}

}  // namespace

validation_result validate(const config& cfg) {
    validation_result r;
    check_platform(cfg.platform, r);
    check_auth(cfg.auth, r);
    check_tls(cfg.tls, r);
    check_http(cfg.http, r);
    check_retry(cfg.retry, r);
    check_metrics(cfg.metrics, r);
    check_queues(cfg.queues, r);
    check_upload(cfg.upload, r);
    check_track(cfg.track, r);
    return r;
}

std::string spool_identity(std::string path) {
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    return path;
}

std::optional<listen_address> parse_listen_address(std::string_view text, std::string& why) {
    // host:port, the host in brackets when it is an IPv6 literal.
    std::string_view host, port;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            why = "must be HOST:PORT, such as 127.0.0.1:9464 or [::1]:9464";
            return std::nullopt;
        }
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos || text.find(':') != colon) {
            why = "must be HOST:PORT, such as 127.0.0.1:9464 or [::1]:9464";
            return std::nullopt;
        }
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
    }
    unsigned value = 0;
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        why = "the port must be a number from 0 to 65535";
        return std::nullopt;
    }
    for (char c : port) value = value * 10 + static_cast<unsigned>(c - '0');
    if (value > 65535) {
        why = "the port must be a number from 0 to 65535";
        return std::nullopt;
    }
    // Loopback only: the endpoints carry no authentication, so they are not offered to the
    // network. 127.0.0.0/8, ::1 and localhost.
    const bool loopback =
        host == "::1" || host == "localhost" ||
        (host.substr(0, 4) == "127." && std::count(host.begin(), host.end(), '.') == 3 &&
         std::all_of(host.begin(), host.end(),
                     [](char c) { return c == '.' || (c >= '0' && c <= '9'); }));
    if (!loopback) {
        why =
            "must be a loopback address (127.0.0.1, ::1 or localhost): /metrics and /healthz "
            "have no authentication";
        return std::nullopt;
    }
    listen_address out;
    out.host = host == "localhost" ? "127.0.0.1" : std::string(host);
    out.port = static_cast<unsigned short>(value);
    return out;
}

}  // namespace aep
