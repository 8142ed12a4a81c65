// Where a URL from the config points: scheme, host, port and base path.
// Owns: URL validation rules (https only, plain http only on loopback) and target building.
// Pure: no I/O, no DNS.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace aep {

struct endpoint {
    bool tls = true;
    std::string host;       // without brackets for IPv6
    std::string port;       // always set ("443" when the URL names none)
    std::string base_path;  // no trailing slash; "" for the root
    bool loopback = false;  // host is 127.0.0.0/8, ::1 or localhost

    // "host:port" form used for the Host header (brackets around IPv6 literals).
    std::string host_header() const;
    // base_path + suffix, where suffix starts with '/'.
    std::string target(std::string_view suffix) const;
    // Two endpoints share connections when they reach the same origin.
    std::string origin_key() const;
};

struct endpoint_parse {
    std::optional<endpoint> value;
    std::string error;      // why it was refused (empty when value is set)
    bool insecure = false;  // plain http on loopback: allowed, but worth a warning
};

endpoint_parse parse_endpoint(std::string_view url);

bool is_loopback_host(std::string_view host);

// RFC 3986 percent-encoding of everything but unreserved characters; fit for query values and
// application/x-www-form-urlencoded fields alike.
std::string percent_encode(std::string_view s);

}  // namespace aep
