#include "config/config.hpp"

#include <gtest/gtest.h>

#include <set>

#include <algorithm>

namespace aep {
namespace {

const char* good_yaml = R"(
platform:
  import_url: https://platform.adobe.io/data/foundation/import
  catalog_url: https://platform.adobe.io/data/foundation/catalog
  org_id: "ORG@AdobeOrg"
  api_key: "client-id"
auth:
  token_url: https://ims-na1.adobelogin.com/ims/token/v3
  client_id: "client-id"
  client_secret_file: /etc/aep-batchd/secret
  scopes: [openid, AdobeID]
tls:
  ca_file: /etc/ssl/extra.pem
http:
  concurrency: 32
  request_timeout: 250ms
retry:
  max_attempts: 3
  initial_backoff: 2s
  max_backoff: 5m
queues:
  - name: prod
    spool: /var/spool/aep-batchd/prod
    sandbox: prod
    input_format: {format: parquet}
  - name: dev
    spool: /var/spool/aep-batchd/dev
    sandbox: dev-1
log:
  format: json
  level: debug
)";

std::vector<std::string> messages(const load_result& r) {
    std::vector<std::string> out;
    for (const auto& e : r.validation.errors) out.push_back(e.to_string());
    return out;
}

bool has(const load_result& r, const std::string& text) {
    auto m = messages(r);
    return std::any_of(m.begin(), m.end(), [&](const std::string& s) { return s == text; });
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
    auto pos = s.find(from);
    EXPECT_NE(pos, std::string::npos) << "test bug: '" << from << "' not in the sample config";
    if (pos != std::string::npos) s.replace(pos, from.size(), to);
    return s;
}

std::string joined(const load_result& r) {
    std::string all;
    for (const auto& m : messages(r)) all += m + "\n";
    return all;
}

TEST(Duration, ParsesUnits) {
    EXPECT_EQ(parse_duration("250ms"), std::chrono::milliseconds(250));
    EXPECT_EQ(parse_duration("30s"), std::chrono::milliseconds(30000));
    EXPECT_EQ(parse_duration("5m"), std::chrono::milliseconds(300000));
    EXPECT_EQ(parse_duration("2h"), std::chrono::milliseconds(7200000));
    EXPECT_EQ(parse_duration("0s"), std::chrono::milliseconds(0));
}

TEST(Duration, RejectsMissingOrUnknownUnits) {
    EXPECT_FALSE(parse_duration("30"));
    EXPECT_FALSE(parse_duration("s"));
    EXPECT_FALSE(parse_duration("-5s"));
    EXPECT_FALSE(parse_duration("5 s"));
    EXPECT_FALSE(parse_duration("5d"));
    EXPECT_FALSE(parse_duration("1.5s"));
    EXPECT_FALSE(parse_duration(""));
}

TEST(Config, GoodConfigLoadsEveryField) {
    auto r = parse_config_text(good_yaml);
    ASSERT_TRUE(r.validation.ok()) << joined(r);
    EXPECT_EQ(r.cfg.platform.org_id, "ORG@AdobeOrg");
    EXPECT_EQ(r.cfg.auth.scopes, (std::vector<std::string>{"openid", "AdobeID"}));
    EXPECT_EQ(r.cfg.http.concurrency, 32);
    EXPECT_EQ(r.cfg.http.request_timeout, std::chrono::milliseconds(250));
    EXPECT_EQ(r.cfg.retry.max_attempts, 3);
    EXPECT_EQ(r.cfg.retry.max_backoff, std::chrono::minutes(5));
    ASSERT_EQ(r.cfg.queues.size(), 2u);
    EXPECT_EQ(r.cfg.queues[0].default_input_format.format, "Parquet");  // normalised spelling
    EXPECT_EQ(r.cfg.queues[1].default_input_format.format, "JSON");     // the default
    EXPECT_EQ(r.cfg.queues[1].sandbox, "dev-1");
    EXPECT_EQ(r.cfg.log.format, log_format::json);
    EXPECT_EQ(r.cfg.log.level, log_level::debug);
    EXPECT_TRUE(r.validation.warnings.empty());
}

TEST(Config, DefaultsApplyWhenSectionsAreOmitted) {
    auto r = parse_config_text(R"(
platform: {org_id: o, api_key: k}
auth: {client_id: c, client_secret_env: SECRET}
queues: [{name: q, spool: /s, sandbox: prod}]
)");
    ASSERT_TRUE(r.validation.ok()) << joined(r);
    EXPECT_EQ(r.cfg.platform.import_url, "https://platform.adobe.io/data/foundation/import");
    EXPECT_EQ(r.cfg.auth.token_url, "https://ims-na1.adobelogin.com/ims/token/v3");
    EXPECT_EQ(r.cfg.http.concurrency, 16);
    EXPECT_EQ(r.cfg.http.request_timeout, std::chrono::seconds(30));
    EXPECT_EQ(r.cfg.http.rate_limit, 138);
    EXPECT_EQ(r.cfg.retry.max_age, std::chrono::hours(1));
    EXPECT_EQ(r.cfg.auth.refresh_margin, std::chrono::minutes(5));
    EXPECT_EQ(r.cfg.log.format, log_format::text);
}

TEST(Config, EachRuleHasItsOwnMessage) {
    struct {
        std::string from, to, expected;
    } cases[] = {
        {"concurrency: 32", "concurrency: 0", "http.concurrency: must be > 0"},
        {"concurrency: 32", "concurrency: 5000", "http.concurrency: must be <= 1024"},
        {"concurrency: 32", "concurrency: lots", "http.concurrency: must be an integer"},
        {"request_timeout: 250ms", "request_timeout: 30",
         "http.request_timeout: must be a duration such as 250ms, 30s, 5m or 1h"},
        {"request_timeout: 250ms", "request_timeout: 0s", "http.request_timeout: must be > 0"},
        {"import_url: https://platform.adobe.io/data/foundation/import",
         "import_url: http://platform.adobe.io/x",
         "platform.import_url: must use https:// (plain http:// is accepted only for loopback "
         "hosts)"},
        {"import_url: https://platform.adobe.io/data/foundation/import", "import_url: ftp://x/y",
         "platform.import_url: must start with https://"},
        {"import_url: https://platform.adobe.io/data/foundation/import", "import_url: not a url",
         "platform.import_url: is not an absolute URL"},
        {"token_url: https://ims-na1.adobelogin.com/ims/token/v3", "token_url: https://u:p@ims/x",
         "auth.token_url: must not contain credentials"},
        {"org_id: \"ORG@AdobeOrg\"", "org_id: \"\"", "platform.org_id: is required"},
        {"api_key: \"client-id\"", "api_key: \"a\\nb\"",
         "platform.api_key: must not contain control characters"},
        {"client_id: \"client-id\"", "client_id: \"\"", "auth.client_id: is required"},
        {"client_secret_file: /etc/aep-batchd/secret", "client_secret_file: relative/secret",
         "auth.client_secret_file: must be an absolute path"},
        {"client_secret_file: /etc/aep-batchd/secret",
         "client_secret_file: /s\n  client_secret_env: X",
         "auth: set exactly one of client_secret_file and client_secret_env"},
        {"scopes: [openid, AdobeID]", "scopes: []", "auth.scopes: must list at least one scope"},
        {"scopes: [openid, AdobeID]", "scopes: [openid, \"a,b\"]",
         "auth.scopes[1]: must be a non-empty scope name without commas or spaces"},
        {"scopes: [openid, AdobeID]", "scopes: openid", "auth.scopes: must be a list of strings"},
        {"ca_file: /etc/ssl/extra.pem", "ca_file: extra.pem",
         "tls.ca_file: must be an absolute path"},
        {"max_attempts: 3", "max_attempts: 0", "retry.max_attempts: must be between 1 and 100"},
        {"max_backoff: 5m", "max_backoff: 1s",
         "retry.max_backoff: must be >= retry.initial_backoff"},
        {"name: prod", "name: \"prod queue\"",
         "queues[0].name: must be 1-64 characters of [A-Za-z0-9_-]"},
        {"name: dev", "name: prod", "queues[1].name: duplicate queue name 'prod'"},
        {"spool: /var/spool/aep-batchd/dev", "spool: /var/spool/aep-batchd/prod/",
         "queues[1].spool: is used by another queue"},
        {"spool: /var/spool/aep-batchd/prod", "spool: spool/prod",
         "queues[0].spool: must be an absolute path"},
        {"sandbox: prod", "sandbox: Prod",
         "queues[0].sandbox: must be the all-lowercase sandbox name ([a-z0-9_-], 1-256)"},
        {"    sandbox: prod\n", "",
         "queues[0].sandbox: is required (the x-sandbox-name, e.g. prod)"},
        {"input_format: {format: parquet}", "input_format: {format: xml}",
         "queues[0].input_format.format: must be one of JSON, Parquet, CSV"},
        {"input_format: {format: parquet}", "input_format: {fmt: json}",
         "queues[0].input_format.fmt: unknown key (known keys: format, is_multi_line_json)"},
        {"format: json", "format: xml", "log.format: must be text or json"},
        {"level: debug", "level: loud", "log.level: must be one of debug, info, warning, error"},
        {"http:\n", "htpp:\n",
         "htpp: unknown key (known keys: platform, auth, tls, http, retry, queues, upload, track, log, metrics)"},
        {"  concurrency: 32", "  concurency: 32",
         "http.concurency: unknown key (known keys: concurrency, request_timeout, rate_limit, "
         "proxy, proxy_credentials_file, no_proxy, stop_grace)"},
        {"  concurrency: 32", "  concurrency: 32\n  proxy: https://proxy:3128",
         "http.proxy: must be an http://host:port URL (the TLS connection is tunnelled through "
         "it)"},
        {"  concurrency: 32", "  concurrency: 32\n  proxy: http://u:p@proxy:3128",
         "http.proxy: put credentials in http.proxy_credentials_file, not in the URL"},
        {"  concurrency: 32", "  concurrency: 32\n  proxy_credentials_file: /etc/creds",
         "http.proxy_credentials_file: needs http.proxy"},
        {"  concurrency: 32", "  concurrency: 32\n  rate_limit: -1",
         "http.rate_limit: must be between 0 (no limit) and 1000000 requests per minute"},
        {"max_backoff: 5m", "max_backoff: 5m\n  max_age: forever",
         "retry.max_age: must be a duration such as 250ms, 30s, 5m or 1h"},
    };
    for (const auto& c : cases) {
        auto r = parse_config_text(replace(good_yaml, c.from, c.to));
        EXPECT_FALSE(r.validation.ok()) << "accepted a config with: " << c.to;
        EXPECT_TRUE(has(r, c.expected))
            << "for '" << c.to << "' expected the message\n  " << c.expected << "\nbut got\n"
            << joined(r);
    }
}

TEST(Config, MetricsListenMustBeLoopback) {
    std::string why;
    auto a = parse_listen_address("127.0.0.1:9464", why);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->host, "127.0.0.1");
    EXPECT_EQ(a->port, 9464);
    a = parse_listen_address("[::1]:0", why);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->host, "::1");
    EXPECT_EQ(a->port, 0);
    EXPECT_EQ(parse_listen_address("localhost:80", why)->host, "127.0.0.1");
    EXPECT_FALSE(parse_listen_address("0.0.0.0:9464", why));
    EXPECT_NE(why.find("loopback"), std::string::npos);
    EXPECT_FALSE(parse_listen_address("10.1.2.3:9464", why));
    EXPECT_FALSE(parse_listen_address("127.0.0.1", why));
    EXPECT_FALSE(parse_listen_address("127.0.0.1:65536", why));
    EXPECT_FALSE(parse_listen_address("127.0.0.1:http", why));
    EXPECT_FALSE(parse_listen_address("::1:9464", why));
    EXPECT_FALSE(parse_listen_address("127.evil.com:9464", why));

    auto r = parse_config_text(
        replace(good_yaml, "http:\n", "metrics:\n  listen: 0.0.0.0:9464\nhttp:\n"));
    EXPECT_TRUE(has(r,
                    "metrics.listen: must be a loopback address (127.0.0.1, ::1 or localhost): "
                    "/metrics and /healthz have no authentication"))
        << joined(r);
    r = parse_config_text(replace(good_yaml, "http:\n",
                                  "metrics:\n  listen: 127.0.0.1:0\n  stall_after: 2m\nhttp:\n"));
    EXPECT_TRUE(r.validation.ok()) << joined(r);
    EXPECT_EQ(r.cfg.metrics.stall_after, std::chrono::minutes(2));
    r = parse_config_text(
        replace(good_yaml, "format: json", "format: json\n  journal_fields: true"));
    EXPECT_TRUE(r.validation.ok()) << joined(r);
    EXPECT_TRUE(r.cfg.log.journal_fields);
}

TEST(Config, AllProblemsAreReportedAtOnce) {
    auto r = parse_config_text(R"(
platform: {org_id: "", api_key: k, import_url: "http://example.com"}
auth: {client_id: c, client_secret_env: S}
http: {concurrency: -1}
queues: [{name: "a b", spool: rel, sandbox: X}]
)");
    EXPECT_GE(r.validation.errors.size(), 6u) << joined(r);
}

TEST(Config, MissingSectionsAreNamed) {
    auto r = parse_config_text("log: {level: info}\n");
    EXPECT_TRUE(has(r, "platform: is required")) << joined(r);
    EXPECT_TRUE(has(r, "auth: is required")) << joined(r);
    EXPECT_TRUE(has(r, "queues: is required: list at least one queue")) << joined(r);
}

TEST(Config, EmptyAndBrokenYamlAreClearErrors) {
    EXPECT_TRUE(has(parse_config_text(""), "the configuration is empty"));
    auto r = parse_config_text("platform: [unclosed\n");
    ASSERT_FALSE(r.validation.ok());
    EXPECT_NE(r.validation.errors[0].message.find("YAML syntax error at line"), std::string::npos)
        << joined(r);
}

TEST(Config, PlainHttpOnLoopbackIsAWarningNotAnError) {
    auto r =
        parse_config_text(replace(good_yaml, "https://platform.adobe.io/data/foundation/import",
                                  "http://127.0.0.1:8080/import"));
    EXPECT_TRUE(r.validation.ok()) << joined(r);
    ASSERT_EQ(r.validation.warnings.size(), 1u);
    EXPECT_NE(r.validation.warnings[0].find("platform.import_url"), std::string::npos);
}

TEST(Config, MissingFileNamesThePath) {
    auto r = load_config("/nonexistent/aep.yaml");
    ASSERT_FALSE(r.validation.ok());
    EXPECT_EQ(r.validation.errors[0].message,
              "/nonexistent/aep.yaml: cannot read the configuration file: No such file or directory");
}

TEST(Format, NormalisesCaseToTheSpecSpelling) {
    EXPECT_EQ(normalize_format("json"), "JSON");
    EXPECT_EQ(normalize_format("PARQUET"), "Parquet");
    EXPECT_EQ(normalize_format("Csv"), "CSV");
    EXPECT_FALSE(normalize_format("avro"));
}

}  // namespace
}  // namespace aep

namespace aep {
namespace {

TEST(Config, ShippedExampleIsValid) {
    // The example in config/ documents every key; it must stay loadable as the code changes.
    // Its only errors are its three placeholders, each named with where the value is found.
    auto r = load_config(AEP_SOURCE_DIR "/config/aep-batchd.example.yaml");
    std::vector<std::string> paths;
    for (const auto& e : r.validation.errors) {
        paths.push_back(e.path);
        EXPECT_NE(e.message.find("is still the example's placeholder 'YOUR_"), std::string::npos)
            << e.to_string();
        EXPECT_NE(e.message.find("Developer Console"), std::string::npos) << e.to_string();
    }
    EXPECT_EQ(paths, (std::vector<std::string>{"platform.org_id", "platform.api_key",
                                                "auth.client_id"}));
    EXPECT_EQ(r.cfg.queues.size(), 1u);
    EXPECT_EQ(r.cfg.http.rate_limit, 138);
}

TEST(Config, UnclosedQuoteIsNamedByItsLine) {
    // yaml-cpp reports the error where the quoted text runs into the next key; the line that
    // opened the quote is named too.
    const std::string yaml =
        "platform:\n  org_id: \"abc@AdobeOrg   # comment\n  api_key: \"k\"\nauth: {}\n";
    auto r = parse_config_text(yaml);
    ASSERT_FALSE(r.validation.ok());
    ASSERT_EQ(r.validation.errors.size(), 1u);
    EXPECT_NE(r.validation.errors[0].message.find("YAML syntax error"), std::string::npos);
    EXPECT_NE(r.validation.errors[0].message.find("line 2 opens a quote that it does not close"),
              std::string::npos)
        << r.validation.errors[0].message;
    // Quotes closed, and '' inside single quotes: no hint on another syntax error.
    auto ok = parse_config_text("a: 'it''s'\nb: \"x\\\"y\"\nc: [unclosed\n");
    ASSERT_FALSE(ok.validation.ok());
    EXPECT_EQ(ok.validation.errors[0].message.find("opens a quote"), std::string::npos)
        << ok.validation.errors[0].message;
}

TEST(Config, SectionWithEveryKeyCommentedOutIsEmpty) {
    auto r = parse_config_text(R"(
platform: {org_id: o, api_key: k}
auth: {client_id: c}
tls:
  # ca_file: /x
http:
queues: [{name: q, spool: /s, sandbox: prod}]
)");
    std::string all;
    for (const auto& e : r.validation.errors) all += e.to_string() + "\n";
    EXPECT_TRUE(r.validation.ok()) << all;
}

TEST(Config, AKeyGivenTwiceIsAnErrorNamingBothLines) {
    const std::string tail = " (only the first would be read)";
    // An appended section (here metrics, after log) must not be dropped without a word.
    auto r = parse_config_text(std::string(good_yaml) +
                               "metrics:\n  listen: 127.0.0.1:9464\nmetrics:\n  listen: "
                               "0.0.0.0:9464\nhttp:\n  concurrency: 8\n");
    EXPECT_TRUE(has(r, "metrics: is given twice, at lines 32 and 34; keep one" + tail))
        << joined(r);
    EXPECT_TRUE(has(r, "http: is given twice, at lines 14 and 36; keep one" + tail)) << joined(r);
    // Inside a section, and inside a queue, too.
    auto s = parse_config_text(
        replace(good_yaml, "  concurrency: 32\n", "  concurrency: 32\n  concurrency: 64\n"));
    EXPECT_TRUE(has(s, "http.concurrency: is given twice, at lines 15 and 16; keep one" + tail))
        << joined(s);
    auto q = parse_config_text(
        replace(good_yaml, "    sandbox: dev-1\n", "    sandbox: dev-1\n    sandbox: prod\n"));
    EXPECT_NE(joined(q).find("queues[1].sandbox: is given twice"), std::string::npos) << joined(q);
    EXPECT_FALSE(parse_config_text(good_yaml).validation.errors.size() > 0);
}

}  // namespace
}  // namespace aep

namespace aep {
namespace {

TEST(Config, SizesTakeUnitsAndOnlyZeroGoesWithout) {
    EXPECT_EQ(parse_size("64MiB"), 64ull << 20);
    EXPECT_EQ(parse_size("256MB"), 256'000'000ull);
    EXPECT_EQ(parse_size("5kB"), 5000ull);
    EXPECT_EQ(parse_size("5KB"), 5000ull);
    EXPECT_EQ(parse_size("3KiB"), 3072ull);
    EXPECT_EQ(parse_size("100GB"), 100'000'000'000ull);
    EXPECT_EQ(parse_size("2TiB"), 2ull << 40);
    EXPECT_EQ(parse_size("17B"), 17ull);
    EXPECT_EQ(parse_size("0"), 0ull);
    for (const char* bad : {"", "64", "1.5GB", "MB", "64 MiB", "64mib", "-1MB", "64MiBs",
                            "99999999999999999TiB"}) {
        EXPECT_FALSE(parse_size(bad)) << bad;
    }
    for (std::uint64_t v : {0ull, 1ull, 1000ull, 1024ull, 256'000'000ull, 64ull << 20,
                            512'000'000ull, 1234567ull}) {
        EXPECT_EQ(parse_size(format_size(v)), v) << format_size(v);
    }
    EXPECT_EQ(format_size(64ull << 20), "64MiB");
    EXPECT_EQ(format_size(256'000'000), "256MB");
}

TEST(Config, UploadAndTrackSectionsAreReadAndChecked) {
    const std::string base = R"(
platform: {org_id: o, api_key: k}
auth: {client_id: c, client_secret_env: S}
queues:
  - {name: q, spool: /s, sandbox: prod, data_dir: /data/q}
)";
    auto r = parse_config_text(base + R"(
upload: {concurrency: 8, large_file_threshold: 100MB, part_size: 16MiB, max_rate: 5MiB}
track: {poll_initial: 10s, poll_max: 2m, max_wait: 6h}
)");
    ASSERT_TRUE(r.validation.ok()) << r.validation.errors[0].to_string();
    EXPECT_EQ(r.cfg.queues[0].data_dir, "/data/q");
    EXPECT_EQ(r.cfg.upload.concurrency, 8);
    EXPECT_EQ(r.cfg.upload.large_file_threshold, 100'000'000u);
    EXPECT_EQ(r.cfg.upload.part_size, 16u << 20);
    EXPECT_EQ(r.cfg.upload.max_rate, 5u << 20);
    EXPECT_EQ(r.cfg.track.poll_initial, std::chrono::seconds(10));
    EXPECT_EQ(r.cfg.track.max_wait, std::chrono::hours(6));
    // The defaults: 4 files, 256 MB, 64 MiB parts, no rate limit, 30 s .. 5 min, 24 h.
    auto d = parse_config_text(base);
    ASSERT_TRUE(d.validation.ok());
    EXPECT_EQ(d.cfg.upload, upload_config{});
    EXPECT_EQ(d.cfg.upload.large_file_threshold, 256'000'000u);
    EXPECT_EQ(d.cfg.track.poll_max, std::chrono::minutes(5));
    auto bad = parse_config_text(base + R"(
upload: {concurrency: 0, large_file_threshold: 300MB, part_size: 1KiB, max_rate: fast}
track: {poll_initial: 1m, poll_max: 30s, max_wait: 0s}
)");
    std::set<std::string> paths;
    for (const auto& e : bad.validation.errors) paths.insert(e.path);
    EXPECT_EQ(paths, (std::set<std::string>{"upload.concurrency", "upload.large_file_threshold",
                                            "upload.part_size", "upload.max_rate",
                                            "track.poll_max", "track.max_wait"}));
    auto rel = parse_config_text(replace(base, "/data/q", "data/q"));
    ASSERT_FALSE(rel.validation.ok());
    EXPECT_EQ(rel.validation.errors[0].path, "queues[0].data_dir");
}

}  // namespace
}  // namespace aep
