// What aep-batchd sends to Adobe IMS and what IMS answers mean, and where the client secret
// comes from. Owns: the client-credentials form body, token-answer classification, the single
// place the secret is read. Pure except read_client_secret (one file or variable read).
#pragma once

#include "config/config.hpp"
#include "config/endpoint.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace aep {

namespace http = boost::beast::http;

// Reads the client secret from the configured source: auth.client_secret_file,
// auth.client_secret_env, or the systemd credential "client_secret" in $CREDENTIALS_DIRECTORY.
// A trailing newline is dropped. On failure `error` names the source (never the value).
struct secret_result {
    std::string secret;
    std::string error;
    std::string warning;  // e.g. a secret file readable by group or others
    std::string source;   // "file /path", "env VAR", "credential client_secret"
};
secret_result read_client_secret(const auth_config& auth);

// What an IMS answer means. Pure, so it can be tested and fuzzed without a server.
struct token_response {
    enum class kind { ok, config_error, transient } outcome = kind::transient;
    std::string access_token;                // when ok
    std::optional<std::int64_t> expires_in;  // seconds, as sent
    std::string message;                     // cause for logs; never contains a token
};
token_response parse_token_response(unsigned status, std::string_view body);

// application/x-www-form-urlencoded body of a client-credentials token request.
std::string token_request_body(const auth_config& auth, const std::string& secret);
// The whole token request to `token_ep` (auth.token_url), with that body.
http::request<http::string_body> token_request(const endpoint& token_ep, const auth_config& auth,
                                               const std::string& secret);

}  // namespace aep
