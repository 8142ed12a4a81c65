#include "config/endpoint.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <arpa/inet.h>

namespace aep {

bool is_loopback_host(std::string_view host) {
    if (host == "localhost") return true;
    std::string h(host);
    in_addr v4{};
    if (inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
    in6_addr v6{};
    if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
    return false;
}

std::string percent_encode(std::string_view s) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (unsigned char c : s) {
        const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
                                c == '~';
        if (unreserved) {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

std::string endpoint::host_header() const {
    std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    if ((tls && port != "443") || (!tls && port != "80")) h += ":" + port;
    return h;
}

std::string endpoint::target(std::string_view suffix) const {
    return base_path + std::string(suffix);
}

std::string endpoint::origin_key() const {
    return (tls ? "https://" : "http://") + host + "|" + port;
}

endpoint_parse parse_endpoint(std::string_view url) {
    endpoint_parse out;
    auto parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed) {
        out.error = "is not an absolute URL";
        return out;
    }
    const auto& u = *parsed;
    endpoint ep;
    if (u.scheme() == "https") {
        ep.tls = true;
    } else if (u.scheme() == "http") {
        ep.tls = false;
    } else {
        out.error = "must start with https://";
        return out;
    }
    if (!u.has_authority() || u.host().empty()) {
        out.error = "has no host";
        return out;
    }
    if (u.has_userinfo()) {
        out.error = "must not contain credentials";
        return out;
    }
    if (u.has_query() || u.has_fragment()) {
        out.error = "must not contain a query or fragment";
        return out;
    }
    ep.host = u.host_type() == boost::urls::host_type::ipv6 ? std::string(u.encoded_host_address())
                                                            : std::string(u.host());
    if (u.host_type() == boost::urls::host_type::ipv6) {
        // encoded_host_address keeps the brackets off; strip any that remain defensively.
        if (!ep.host.empty() && ep.host.front() == '[')
            ep.host = ep.host.substr(1, ep.host.size() - 2);
    }
    if (u.has_port()) {
        if (u.port_number() == 0) {
            out.error = "has an invalid port";
            return out;
        }
        ep.port = std::string(u.port());
    } else {
        ep.port = ep.tls ? "443" : "80";
    }
    ep.base_path = std::string(u.encoded_path());
    while (!ep.base_path.empty() && ep.base_path.back() == '/') ep.base_path.pop_back();
    ep.loopback = is_loopback_host(ep.host);
    if (!ep.tls) {
        if (!ep.loopback) {
            out.error = "must use https:// (plain http:// is accepted only for loopback hosts)";
            return out;
        }
        out.insecure = true;
    }
    out.value = std::move(ep);
    return out;
}

}  // namespace aep
