// The Batch Ingestion API's "create batch" call as pure functions: the request we send and
// what an answer means. Owns: headers, body (validated against IngestBatch), classification.
// Does not own: transport (https_client) or what to do next (pipeline/create_stage). Pure.
#pragma once

#include "aep/entry.hpp"
#include "config/config.hpp"
#include "config/endpoint.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace aep {

namespace http = boost::beast::http;

// {"datasetId", "inputFormat", "externalId", "tags"?}. The entry's own inputFormat wins over
// the queue default. external_id must be set.
std::string create_batch_body(const batch_entry& e, const input_format& queue_default);

// POST {import_url}/batches with exactly accept, content-type, Authorization, x-api-key,
// x-gw-ims-org-id and x-sandbox-name (Host and Content-Length are added by the transport).
// Who a request is made as: the org's API key and id, the sandbox, and the access token.
struct api_caller {
    const platform_config& platform;
    std::string_view sandbox;
    std::string_view token;
};

http::request<http::string_body> create_batch_request(const endpoint& import_ep,
                                                      const api_caller& as, std::string body);

// POST {import_url}/batches/{batchId}?action=ABORT with the API headers: ends a batch that is
// still loading (a twin sent after an unknown outcome). 200: aborted.
http::request<http::string_body> abort_batch_request(const endpoint& import_ep,
                                                     const api_caller& as,
                                                     const std::string& batch_id);

struct create_result {
    enum class kind {
        created,       // 201 with a batch id
        unauthorized,  // 401: the token was refused
        transient,     // 408, 429, 5xx: may succeed later
        permanent,     // other 4xx: will not succeed as sent
        ambiguous,     // a 201 we cannot read, or another status we do not know
    } outcome = kind::ambiguous;
    std::string batch_id;
    std::string stage_path;       // tags.acp_stagePath[0]; empty when absent
    std::string status;           // the batch's status, e.g. "loading"
    std::string dataset_id;       // relatedObjects' dataSet id, when the answer names one
    std::string response;         // the batch as compact JSON text (the 201 body, or Catalog's)
    std::int64_t created_ms = 0;  // its "created" time, when the answer gives one
    std::string reason;           // why, for anything but created
    std::optional<std::chrono::milliseconds> retry_after;  // when the server said
};

create_result classify_create_response(unsigned status, std::string_view body,
                                       std::string_view retry_after_header,
                                       std::chrono::system_clock::time_point now);

// GET {catalog_url}/batches?externalId=... with the API headers: finds a batch created by an
// earlier request whose outcome we could not see.
http::request<http::string_body> catalog_lookup_request(const endpoint& catalog_ep,
                                                        const api_caller& as,
                                                        const std::string& external_id);

// A request to the API with the headers every call carries: accept, Authorization, x-api-key,
// x-gw-ims-org-id and x-sandbox-name.
http::request<http::string_body> api_request(http::verb verb, std::string target,
                                             const api_caller& as);

// GET {catalog_url}/batches?limit=1: the read-only request `--check --online` makes, to learn
// whether the credentials, the org and the sandbox let the daemon use Catalog.
http::request<http::string_body> catalog_probe_request(const endpoint& catalog_ep,
                                                       const api_caller& as);

struct lookup_result {
    enum class kind { found, not_found, unauthorized, error } outcome = kind::error;
    create_result batch;  // when found: the first created (batch_id, stage_path, status, ...)
    std::vector<create_result> batches;  // when found: every one under the id, first created first
    std::string reason;                  // when error
};
// Catalog answers an object keyed by batch id; only batches whose externalId matches count.
lookup_result parse_catalog_lookup(unsigned status, std::string_view body,
                                   std::string_view external_id);

// Retry-After as delta-seconds or an HTTP-date; nullopt when absent or unreadable.
std::optional<std::chrono::milliseconds> parse_retry_after(
    std::string_view value, std::chrono::system_clock::time_point now);

// A printable excerpt of a response body for error records: the first 4 KiB.
std::string body_excerpt(std::string_view body);

}  // namespace aep
