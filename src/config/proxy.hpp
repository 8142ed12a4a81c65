// Which connections go through an HTTP proxy, and what the proxy is told.
// Owns: proxy settings (http.proxy and http.proxy_credentials_file, or https_proxy/no_proxy
// from the environment), no_proxy matching, and the CONNECT request head. Pure, except
// load_proxy_settings, which reads the environment and the credentials file.
#pragma once

#include "config/config.hpp"
#include "config/endpoint.hpp"

#include <optional>
#include <string>
#include <vector>

namespace aep {

struct proxy_settings {
    std::optional<endpoint> proxy;      // plain-TCP HTTP proxy; TLS is tunnelled through CONNECT
    std::string authorization;          // "Basic ..." for Proxy-Authorization, or empty
    std::vector<std::string> no_proxy;  // hosts (and .domain suffixes) reached directly; "*": all
    std::string source;                 // "http.proxy" or "https_proxy", for messages
};

struct proxy_load_result {
    proxy_settings settings;
    std::string error;  // names the key, variable or file at fault; never a credential
};

// http.proxy (with http.proxy_credentials_file) when set, else $https_proxy/$HTTPS_PROXY with
// $no_proxy/$NO_PROXY. A proxy URL must be http://host[:port] (user:password@ allowed only in the
// environment variable, as curl accepts it).
proxy_load_result load_proxy_settings(const http_config& http);

// Parses http://[user:password@]host[:port][/]; the user info is returned separately. On
// failure, `error` says why.
std::optional<endpoint> parse_proxy_url(std::string_view url, std::string& userinfo,
                                        std::string& error);

// Parses the environment's form of the settings (for tests): proxy URL and no_proxy list.
proxy_load_result parse_proxy_env(const std::string& https_proxy, const std::string& no_proxy);

// True when connections to `target` go through the proxy: TLS endpoints only (the tunnel keeps
// TLS end to end), unless no_proxy names the host.
bool use_proxy(const proxy_settings& s, const endpoint& target);

// "CONNECT host:port HTTP/1.1" with Host and, when set, Proxy-Authorization.
std::string connect_request(const endpoint& target, const std::string& authorization);

std::string base64_encode(std::string_view in);

}  // namespace aep
