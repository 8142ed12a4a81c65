#include "aep/ims.hpp"

#include "config/endpoint.hpp"

#include <boost/json/parse.hpp>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

namespace aep {
namespace {

std::string strip_newline(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
}

secret_result read_secret_file(const std::string& path, const std::string& what) {
    secret_result r;
    r.source = what;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        r.error = what + ": cannot read " + path + ": " + std::strerror(errno);
        return r;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    r.secret = strip_newline(ss.str());
    if (r.secret.empty()) r.error = what + ": " + path + " is empty";
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
        r.warning = what + ": " + path + " is readable by group or others; chmod 600 it";
    }
    return r;
}

// A short, safe excerpt of an IMS error for logs: only the error code and its description.
std::string ims_error_text(const boost::json::object& o) {
    std::string text;
    if (auto* e = o.if_contains("error"); e && e->is_string()) text = std::string(e->get_string());
    if (auto* d = o.if_contains("error_description"); d && d->is_string()) {
        text += (text.empty() ? "" : ": ") + std::string(d->get_string()).substr(0, 200);
    }
    return text;
}

}  // namespace

secret_result read_client_secret(const auth_config& auth) {
    if (!auth.client_secret_file.empty()) {
        return read_secret_file(auth.client_secret_file, "auth.client_secret_file");
    }
    if (!auth.client_secret_env.empty()) {
        secret_result r;
        r.source = "auth.client_secret_env";
        const char* v = std::getenv(auth.client_secret_env.c_str());
        if (!v || !*v) {
            r.error = "auth.client_secret_env: environment variable " + auth.client_secret_env +
                      " is not set or empty";
        } else {
            r.secret = strip_newline(v);
        }
        return r;
    }
    if (const char* dir = std::getenv("CREDENTIALS_DIRECTORY"); dir && *dir) {
        return read_secret_file(std::string(dir) + "/client_secret",
                                "systemd credential client_secret");
    }
    secret_result r;
    r.error =
        "auth: no client secret: set auth.client_secret_file or auth.client_secret_env, "
        "or pass a systemd credential named client_secret";
    return r;
}

http::request<http::string_body> token_request(const endpoint& token_ep, const auth_config& auth,
                                               const std::string& secret) {
    http::request<http::string_body> req{http::verb::post, token_ep.target(""), 11};
    req.set(http::field::content_type, "application/x-www-form-urlencoded");
    req.set(http::field::accept, "application/json");
    req.set(http::field::user_agent, "aep-batchd/" AEP_BATCHD_VERSION);
    req.body() = token_request_body(auth, secret);
    return req;
}

std::string token_request_body(const auth_config& auth, const std::string& secret) {
    std::string scopes;
    for (const auto& s : auth.scopes) scopes += (scopes.empty() ? "" : ",") + s;
    return "grant_type=client_credentials&client_id=" + percent_encode(auth.client_id) +
           "&client_secret=" + percent_encode(secret) + "&scope=" + percent_encode(scopes);
}

token_response parse_token_response(unsigned status, std::string_view body) {
    token_response r;
    boost::system::error_code ec;
    auto jv = boost::json::parse(body, ec);
    const boost::json::object* obj = (!ec && jv.is_object()) ? &jv.as_object() : nullptr;
    if (status == 200) {
        const auto* tok = obj ? obj->if_contains("access_token") : nullptr;
        if (!tok || !tok->is_string() || tok->get_string().empty()) {
            r.outcome = token_response::kind::transient;
            r.message = "IMS answered 200 without an access_token";
            return r;
        }
        for (unsigned char c : tok->get_string()) {
            if (c <= 0x20 || c >= 0x7f) {
                r.outcome = token_response::kind::transient;
                r.message = "IMS answered 200 with a malformed access_token";
                return r;
            }
        }
        r.outcome = token_response::kind::ok;
        r.access_token = std::string(tok->get_string());
        if (const auto* e = obj->if_contains("expires_in")) {
            if (e->is_int64()) {
                r.expires_in = e->get_int64();
            } else if (e->is_uint64()) {
                r.expires_in =
                    static_cast<std::int64_t>(std::min<std::uint64_t>(e->get_uint64(), INT64_MAX));
            } else if (e->is_double()) {
                r.expires_in = static_cast<std::int64_t>(std::clamp(e->get_double(), -1.0, 1e12));
            } else if (e->is_string()) {
                char* end = nullptr;
                const std::string s(e->get_string());
                const long long v = std::strtoll(s.c_str(), &end, 10);
                if (end && *end == '\0' && !s.empty()) r.expires_in = v;
            }
        }
        return r;
    }
    const std::string detail = obj ? ims_error_text(*obj) : std::string();
    r.message =
        "IMS answered " + std::to_string(status) + (detail.empty() ? "" : " (" + detail + ")");
    if (status == 429 || status == 408 || status >= 500) {
        r.outcome = token_response::kind::transient;
    } else {
        // 400 invalid_client / invalid_scope, 401, 403: retrying soon will not help.
        r.outcome = token_response::kind::config_error;
    }
    return r;
}

}  // namespace aep
