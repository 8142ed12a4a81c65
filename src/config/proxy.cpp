#include "config/proxy.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace aep {
namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::string env(const char* a, const char* b) {
    if (const char* v = std::getenv(a); v && *v) return v;
    if (const char* v = std::getenv(b); v && *v) return v;
    return {};
}

}  // namespace

std::optional<endpoint> parse_proxy_url(std::string_view url, std::string& userinfo,
                                        std::string& error) {
    auto u = boost::urls::parse_absolute_uri(url);
    if (!u || u->scheme() != "http" || u->host().empty()) {
        error = "must be an http://host:port URL (the TLS connection is tunnelled through it)";
        return std::nullopt;
    }
    if (!(u->encoded_path().empty() || u->encoded_path() == "/") || u->has_query()) {
        error = "must not have a path or query";
        return std::nullopt;
    }
    if (u->has_userinfo()) userinfo = std::string(u->userinfo());
    endpoint ep;
    ep.tls = false;
    ep.host = u->host_type() == boost::urls::host_type::ipv6
                  ? std::string(u->encoded_host_address())
                  : std::string(u->host());
    ep.port = u->has_port() ? std::string(u->port()) : "80";
    ep.loopback = is_loopback_host(ep.host);
    return ep;
}

std::string base64_encode(std::string_view in) {
    static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    while (i + 2 < in.size()) {
        const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                           (static_cast<unsigned char>(in[i + 1]) << 8) |
                           static_cast<unsigned char>(in[i + 2]);
        out += tbl[v >> 18];
        out += tbl[(v >> 12) & 63];
        out += tbl[(v >> 6) & 63];
        out += tbl[v & 63];
        i += 3;
    }
    if (i + 1 == in.size()) {
        const unsigned v = static_cast<unsigned char>(in[i]) << 16;
        out += tbl[v >> 18];
        out += tbl[(v >> 12) & 63];
        out += "==";
    } else if (i + 2 == in.size()) {
        const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                           (static_cast<unsigned char>(in[i + 1]) << 8);
        out += tbl[v >> 18];
        out += tbl[(v >> 12) & 63];
        out += tbl[(v >> 6) & 63];
        out += '=';
    }
    return out;
}

proxy_load_result parse_proxy_env(const std::string& https_proxy, const std::string& no_proxy) {
    proxy_load_result r;
    r.settings.source = "https_proxy";
    std::string list = no_proxy;
    std::replace(list.begin(), list.end(), ';', ',');
    std::stringstream ss(list);
    for (std::string item; std::getline(ss, item, ',');) {
        item.erase(0, item.find_first_not_of(" \t"));
        item.erase(item.find_last_not_of(" \t") + 1);
        if (!item.empty()) r.settings.no_proxy.push_back(lower(item));
    }
    if (https_proxy.empty()) return r;
    std::string userinfo, error;
    auto ep = parse_proxy_url(https_proxy, userinfo, error);
    if (!ep) {
        r.error = "environment variable https_proxy: " + error;
        return r;
    }
    r.settings.proxy = ep;
    if (!userinfo.empty()) r.settings.authorization = "Basic " + base64_encode(userinfo);
    return r;
}

proxy_load_result load_proxy_settings(const http_config& http) {
    if (http.proxy.empty()) {
        return parse_proxy_env(env("https_proxy", "HTTPS_PROXY"), env("no_proxy", "NO_PROXY"));
    }
    proxy_load_result r;
    r.settings.source = "http.proxy";
    std::string userinfo, error;
    auto ep = parse_proxy_url(http.proxy, userinfo, error);
    if (!ep) {
        r.error = "http.proxy: " + error;
        return r;
    }
    r.settings.proxy = ep;
    for (const auto& n : http.no_proxy) r.settings.no_proxy.push_back(lower(n));
    if (!http.proxy_credentials_file.empty()) {
        std::ifstream in(http.proxy_credentials_file, std::ios::binary);
        if (!in) {
            r.error = "http.proxy_credentials_file: cannot read " + http.proxy_credentials_file +
                      ": " + std::strerror(errno);
            return r;
        }
        std::stringstream ss;
        ss << in.rdbuf();
        std::string creds = ss.str();
        while (!creds.empty() && (creds.back() == '\n' || creds.back() == '\r')) creds.pop_back();
        if (creds.find(':') == std::string::npos) {
            r.error = "http.proxy_credentials_file: " + http.proxy_credentials_file +
                      " must hold user:password on one line";
            return r;
        }
        r.settings.authorization = "Basic " + base64_encode(creds);
    }
    return r;
}

bool use_proxy(const proxy_settings& s, const endpoint& target) {
    if (!s.proxy || !target.tls) return false;
    const std::string host = lower(target.host);
    for (const auto& n : s.no_proxy) {
        if (n == "*") return false;
        std::string pattern = n;
        if (auto colon = pattern.rfind(':');
            colon != std::string::npos && pattern.find(':') == colon) {
            if (pattern.substr(colon + 1) != target.port) continue;  // host:port form
            pattern = pattern.substr(0, colon);
        }
        if (!pattern.empty() && pattern.front() == '.') pattern.erase(0, 1);
        if (host == pattern) return false;
        if (host.size() > pattern.size() && host.ends_with(pattern) &&
            host[host.size() - pattern.size() - 1] == '.') {
            return false;
        }
    }
    return true;
}

std::string connect_request(const endpoint& target, const std::string& authorization) {
    const std::string authority = target.host.find(':') != std::string::npos
                                      ? "[" + target.host + "]:" + target.port
                                      : target.host + ":" + target.port;
    std::string req = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
    if (!authorization.empty()) req += "Proxy-Authorization: " + authorization + "\r\n";
    req += "\r\n";
    return req;
}

}  // namespace aep
