// The daemon's configuration as plain data, and its validation.
// Owns: the shape of every setting, its default, and the rules it must satisfy.
// Does not own: reading YAML (config_yaml.cpp is the only file that knows yaml-cpp).
// Pure: no I/O except load_config(), which reads one file.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace aep {

// One problem found in a configuration, located by its key path ("http.concurrency",
// "queues[1].spool"). Validation collects all of them so start-up fails once, completely.
struct config_error {
    std::string path;
    std::string message;
    std::string to_string() const { return path.empty() ? message : path + ": " + message; }
};

struct input_format {
    std::string format = "JSON";             // one of the spec's enum: JSON, Parquet, CSV
    std::optional<bool> is_multi_line_json;  // sent as isMultiLineJson only when set

    bool operator==(const input_format&) const = default;
};

struct platform_config {
    std::string import_url = "https://platform.adobe.io/data/foundation/import";  // POST {}/batches
    std::string catalog_url =
        "https://platform.adobe.io/data/foundation/catalog";  // batch look-ups
    std::string org_id;                                       // x-gw-ims-org-id, required
    std::string api_key;  // x-api-key, required (the integration's client id)

    bool operator==(const platform_config&) const = default;
};

struct auth_config {
    std::string token_url = "https://ims-na1.adobelogin.com/ims/token/v3";
    std::string client_id;           // required
    std::string client_secret_file;  // path to a file holding the secret (trailing newline ignored)
    std::string client_secret_env;   // or: name of an environment variable holding it
    std::vector<std::string> scopes = {"openid", "AdobeID", "read_organizations",
                                       "additional_info.projectedProductContext", "session"};
    // A token is replaced this long before it expires (and never later than 90% of its lifetime).
    std::chrono::milliseconds refresh_margin = std::chrono::minutes(5);

    bool operator==(const auth_config&) const = default;
};

struct tls_config {
    std::string ca_file;      // extra trust anchors (PEM); the system store is always used too
    std::string client_cert;  // PEM certificate chain presented to servers that ask (mTLS)
    std::string client_key;   // its private key (PEM); set both or neither

    bool operator==(const tls_config&) const = default;
};

struct http_config {
    int concurrency = 16;  // requests in flight, all queues together; 1..1024
    std::chrono::milliseconds request_timeout = std::chrono::seconds(30);  // per network step
    // Client-side limit on API requests (creates and look-ups) per minute, for the whole org;
    // the default is Adobe's documented per-user guardrail. 0 disables it. 0..1000000.
    int rate_limit = 138;
    // An http://host:port proxy for the TLS connections (CONNECT tunnel). Empty: the
    // https_proxy/no_proxy environment variables decide.
    std::string proxy;
    std::string proxy_credentials_file;  // "user:password" on one line, for Proxy-Authorization
    std::vector<std::string> no_proxy;   // hosts (or .domain suffixes) reached without http.proxy
    // After SIGTERM/SIGINT, requests in flight get this long to finish; then they are cut off
    // and their entries stay in processing/ (resumed, with a Catalog check, at the next start).
    std::chrono::milliseconds stop_grace = std::chrono::seconds(30);

    bool operator==(const http_config&) const = default;
};

// Retries of a batch creation that failed transiently (429, 5xx, network, timeout).
struct retry_config {
    int max_attempts = 8;  // requests per entry, the first included; then failed/. 1..100
    std::chrono::milliseconds initial_backoff = std::chrono::seconds(1);  // first pause (cap of)
    std::chrono::milliseconds max_backoff = std::chrono::seconds(60);     // longest pause
    // An entry still failing this long after it was claimed goes to failed/. 0: no limit.
    std::chrono::milliseconds max_age = std::chrono::hours(1);
    // After a create whose outcome is unknown, Catalog is asked over this long (looks spaced
    // out) before the create is sent again; then once more as long after the resend. 0: once.
    std::chrono::milliseconds catalog_lag = std::chrono::seconds(30);

    bool operator==(const retry_config&) const = default;
};

// Uploading an entry's data files into its batch (entries that name `files`).
struct upload_config {
    int concurrency = 4;  // files in flight, all batches together; 1..64
    // A file larger than this goes by parts (INITIALIZE, PATCH, COMPLETE); one at or below it
    // by one PUT. The API's limit for a PUT is 256 MB (256 000 000 bytes).
    std::uint64_t large_file_threshold = 256'000'000;
    std::uint64_t part_size = 64ull << 20;  // bytes a PATCH; 1 MiB .. 512 000 000
    std::uint64_t max_rate = 0;             // bytes per second, all uploads together; 0: no limit

    bool operator==(const upload_config&) const = default;
};

// Following a completed batch to its final status in Catalog.
struct track_config {
    std::chrono::milliseconds poll_initial = std::chrono::seconds(30);  // first poll, after COMPLETE
    std::chrono::milliseconds poll_max = std::chrono::minutes(5);       // polls back off to this
    std::chrono::milliseconds max_wait = std::chrono::hours(24);  // then failed/, left in AEP

    bool operator==(const track_config&) const = default;
};

struct queue_config {
    std::string name;     // [A-Za-z0-9_-], unique; appears in logs and result files
    std::string spool;    // absolute directory; tmp/ incoming/ processing/ done/ failed/ inside
    std::string sandbox;  // x-sandbox-name: the all-lowercase sandbox name
    input_format default_input_format;  // used when an entry names none
    // Absolute directory that an entry's `files` are relative to (none may lie outside it).
    // Empty: entries with files are refused.
    std::string data_dir;

    bool operator==(const queue_config&) const = default;
};

enum class log_format { text, json };
enum class log_level { debug = 0, info = 1, warning = 2, error = 3 };

struct log_config {
    log_format format = log_format::text;
    log_level level = log_level::info;
    // When stderr is the journal, also send each line natively with its fields as journal
    // fields (QUEUE=, DATASET_ID=, BATCH_ID=, STAGE_PATH=, EXTERNAL_ID=, ...).
    bool journal_fields = false;

    bool operator==(const log_config&) const = default;
};

// The loopback HTTP listener for /metrics (Prometheus) and /healthz. Off when listen is empty.
struct metrics_config {
    std::string listen;  // "127.0.0.1:9464", "[::1]:9464"; port 0 lets the system choose
    // /healthz turns unhealthy when entries are waiting and none has succeeded for this long.
    std::chrono::milliseconds stall_after = std::chrono::minutes(5);

    bool operator==(const metrics_config&) const = default;
};

struct config {
    platform_config platform;
    auth_config auth;
    tls_config tls;
    http_config http;
    retry_config retry;
    std::vector<queue_config> queues;
    upload_config upload;
    track_config track;
    log_config log;
    metrics_config metrics;

    bool operator==(const config&) const = default;
};

// Parses "250ms", "30s", "5m", "2h" (a whole number and a unit; no bare numbers, so that a
// missing unit is an error rather than a silent guess).
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);
// Parses "64MiB", "256MB", "1.5GB" is refused (whole numbers only), "0": B, kB, MB, GB, TB
// (powers of 1000) and KiB, MiB, GiB, TiB (powers of 1024). A bare number other than 0 is
// refused, so that a missing unit is an error.
std::optional<std::uint64_t> parse_size(std::string_view text);
// The shortest exact form parse_size reads back ("64MiB", "256MB", "0").
std::string format_size(std::uint64_t bytes);

// Warnings are things that work but deserve the operator's attention (plain http on loopback).
struct validation_result {
    std::vector<config_error> errors;
    std::vector<std::string> warnings;
    bool ok() const { return errors.empty(); }
};

// Checks every rule that needs no I/O. config_yaml.cpp reports type and unknown-key errors.
validation_result validate(const config& cfg);

// Reads and validates a YAML file. On any error, result.errors is non-empty and the returned
// config must not be used. Errors name the file or the key path.
struct load_result {
    config cfg;
    validation_result validation;
};
load_result load_config(const std::string& path);
load_result parse_config_text(const std::string& yaml_text);

// "host:port" of metrics.listen, split; nullopt (with why) unless host is a loopback address.
struct listen_address {
    std::string host;
    unsigned short port = 0;
};
std::optional<listen_address> parse_listen_address(std::string_view text, std::string& why);

// A queue's spool directory as queues are told apart: without trailing slashes. Validation
// refuses two queues on one spool, and a reload matches old and new queues, by this.
std::string spool_identity(std::string path);

// Valid x-sandbox-name / dataset id shapes, shared with entry parsing.
bool is_valid_dataset_id(std::string_view id);

// Normalises "json"/"parquet"/"csv" (any case) to the spec's spelling; nullopt when unknown.
std::optional<std::string> normalize_format(std::string_view text);

}  // namespace aep
