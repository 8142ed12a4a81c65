#include "app/config_dump.hpp"

#include "aep/json_write.hpp"

namespace aep {
namespace {

// A YAML double-quoted scalar (JSON string syntax is valid YAML).
std::string q(const std::string& s) {
    std::string out;
    append_json_string(out, s);
    return out;
}

// The largest unit that gives a whole number: 90s, 5m, 1h, 250ms.
std::string dur(std::chrono::milliseconds d) {
    const auto ms = d.count();
    if (ms == 0) return "0s";
    if (ms % 3600000 == 0) return std::to_string(ms / 3600000) + "h";
    if (ms % 60000 == 0) return std::to_string(ms / 60000) + "m";
    if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
    return std::to_string(ms) + "ms";
}

// The comment beside a file holding a secret.
std::string unread(const std::string& path) { return path.empty() ? "" : "   # not read here"; }

std::string list(const std::vector<std::string>& v) {
    std::string out = "[";
    for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + q(v[i]);
    return out + "]";
}

std::string levels(log_level l) {
    switch (l) {
        case log_level::debug:
            return "debug";
        case log_level::info:
            return "info";
        case log_level::warning:
            return "warning";
        case log_level::error:
            return "error";
    }
    return "info";
}

std::string format_of(const input_format& f, const std::string& pad) {
    std::string out = pad + "input_format:\n" + pad + "  format: " + f.format + "\n";
    if (f.is_multi_line_json)
        out += pad + "  is_multi_line_json: " + (*f.is_multi_line_json ? "true" : "false") + "\n";
    return out;
}

std::string body(const config& c, bool with_queues) {
    std::string o;
    o += "platform:\n";
    o += "  import_url: " + q(c.platform.import_url) + "\n";
    o += "  catalog_url: " + q(c.platform.catalog_url) + "\n";
    o += "  org_id: " + q(c.platform.org_id) + "\n";
    o += "  api_key: " + q(c.platform.api_key) + "\n";
    o += "auth:\n";
    o += "  token_url: " + q(c.auth.token_url) + "\n";
    o += "  client_id: " + q(c.auth.client_id) + "\n";
    if (!c.auth.client_secret_file.empty()) {
        o += "  client_secret_file: " + q(c.auth.client_secret_file) + "   # not read here\n";
    } else if (!c.auth.client_secret_env.empty()) {
        o += "  client_secret_env: " + q(c.auth.client_secret_env) + "   # not read here\n";
    } else {
        o += "  # the client secret: the systemd credential client_secret "
             "($CREDENTIALS_DIRECTORY/client_secret)\n";
    }
    o += "  scopes: " + list(c.auth.scopes) + "\n";
    o += "  refresh_margin: " + dur(c.auth.refresh_margin) + "\n";
    o += "tls:\n";
    o += "  ca_file: " + q(c.tls.ca_file) + "\n";
    o += "  client_cert: " + q(c.tls.client_cert) + "\n";
    o += "  client_key: " + q(c.tls.client_key) + unread(c.tls.client_key) + "\n";
    o += "http:\n";
    o += "  concurrency: " + std::to_string(c.http.concurrency) + "\n";
    o += "  request_timeout: " + dur(c.http.request_timeout) + "\n";
    o += "  rate_limit: " + std::to_string(c.http.rate_limit) + "\n";
    o += "  proxy: " + q(c.http.proxy) + "\n";  // validation refuses credentials in it
    o += "  proxy_credentials_file: " + q(c.http.proxy_credentials_file) +
         unread(c.http.proxy_credentials_file) + "\n";
    o += "  no_proxy: " + list(c.http.no_proxy) + "\n";
    o += "  stop_grace: " + dur(c.http.stop_grace) + "\n";
    o += "retry:\n";
    o += "  max_attempts: " + std::to_string(c.retry.max_attempts) + "\n";
    o += "  initial_backoff: " + dur(c.retry.initial_backoff) + "\n";
    o += "  max_backoff: " + dur(c.retry.max_backoff) + "\n";
    o += "  max_age: " + dur(c.retry.max_age) + "\n";
    o += "  catalog_lag: " + dur(c.retry.catalog_lag) + "\n";
    if (with_queues) {
        o += "queues:\n";
        for (const auto& qc : c.queues) {
            o += "  - name: " + q(qc.name) + "\n";
            o += "    spool: " + q(qc.spool) + "\n";
            o += "    sandbox: " + q(qc.sandbox) + "\n";
            o += format_of(qc.default_input_format, "    ");
            o += "    data_dir: " + q(qc.data_dir) + "\n";
        }
    } else {
        o += "queues:   # required: no default\n";
        o += "  - name: \"\"\n    spool: \"\"\n    sandbox: \"\"\n";
        o += format_of(queue_config{}.default_input_format, "    ");
        o += "    data_dir: \"\"\n";
    }
    o += "upload:\n";
    o += "  concurrency: " + std::to_string(c.upload.concurrency) + "\n";
    o += "  large_file_threshold: " + format_size(c.upload.large_file_threshold) + "\n";
    o += "  part_size: " + format_size(c.upload.part_size) + "\n";
    o += "  max_rate: " + format_size(c.upload.max_rate) + "\n";
    o += "track:\n";
    o += "  poll_initial: " + dur(c.track.poll_initial) + "\n";
    o += "  poll_max: " + dur(c.track.poll_max) + "\n";
    o += "  max_wait: " + dur(c.track.max_wait) + "\n";
    o += "log:\n";
    o += std::string("  format: ") + (c.log.format == log_format::json ? "json" : "text") + "\n";
    o += "  level: " + levels(c.log.level) + "\n";
    o += std::string("  journal_fields: ") + (c.log.journal_fields ? "true" : "false") + "\n";
    o += "metrics:\n";
    o += "  listen: " + q(c.metrics.listen) + "\n";
    o += "  stall_after: " + dur(c.metrics.stall_after) + "\n";
    return o;
}

}  // namespace

std::string dump_config(const config& cfg) { return body(cfg, true); }

std::string dump_defaults() {
    return "# aep-batchd's built-in defaults; \"\" marks a key that has none (required, or "
           "off)\n" +
           body(config{}, false);
}

}  // namespace aep
