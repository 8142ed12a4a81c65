#include "app/online_check.hpp"

#include "aep/batch_api.hpp"
#include "aep/ims.hpp"
#include "app/exit_codes.hpp"
#include "io/https_client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <set>

namespace aep {
namespace asio = boost::asio;

namespace {

// What a Catalog answer says about the setup, for one sandbox.
std::string catalog_verdict(unsigned status, const std::string& body, const std::string& sandbox) {
    const std::string excerpt = body_excerpt(body);
    switch (status) {
        case 200:
            return {};
        case 401:
            return "HTTP 401: the API refused the token; platform.api_key must be the same "
                   "credential's client id as auth.client_id (" + excerpt + ")";
        case 403:
            return "HTTP 403: the credential may not read batches in sandbox '" + sandbox +
                   "' of platform.org_id; add the API to the project and a product profile "
                   "with that sandbox in Developer Console (" + excerpt + ")";
        case 404:
            return "HTTP 404: check platform.catalog_url and queues[].sandbox (" + excerpt + ")";
        default:
            return "HTTP " + std::to_string(status) + " (" + excerpt + ")";
    }
}

asio::awaitable<void> probe(const checked_config& loaded, https_client& client, std::ostream& out,
                            bool& ok) {
    const config& cfg = loaded.cfg;
    const auto token_ep = parse_endpoint(cfg.auth.token_url).value;
    const auto catalog_ep = parse_endpoint(cfg.platform.catalog_url).value;
    auto req = token_request(*token_ep, cfg.auth, loaded.secret);
    auto got = co_await client.send(*token_ep, req);
    std::string token;
    if (got.failure != transport_failure::none) {
        out << "error: IMS (" << cfg.auth.token_url << "): " << to_string(got.failure)
            << " error: " << got.error << "\n";
    } else {
        auto parsed = parse_token_response(got.response.result_int(), got.response.body());
        if (parsed.outcome == token_response::kind::ok) {
            token = std::move(parsed.access_token);
            out << "ok: IMS issued an access token";
            if (parsed.expires_in) out << " (valid for " << *parsed.expires_in << " s)";
            out << "\n";
        } else {
            out << "error: IMS (" << cfg.auth.token_url << "): " << parsed.message;
            if (parsed.outcome == token_response::kind::config_error)
                out << "; check auth.client_id, the client secret and auth.scopes";
            out << "\n";
        }
    }
    if (token.empty()) {
        ok = false;
        co_return;
    }
    std::set<std::string> sandboxes;
    for (const auto& q : cfg.queues) sandboxes.insert(q.sandbox);
    for (const auto& sandbox : sandboxes) {
        auto creq = catalog_probe_request(*catalog_ep, api_caller{cfg.platform, sandbox, token});
        auto answer = co_await client.send(*catalog_ep, creq);
        std::string why;
        if (answer.failure != transport_failure::none) {
            why = std::string(to_string(answer.failure)) + " error: " + answer.error;
        } else {
            why = catalog_verdict(answer.response.result_int(), answer.response.body(), sandbox);
        }
        if (why.empty()) {
            out << "ok: Catalog lists batches of sandbox '" << sandbox << "'\n";
        } else {
            ok = false;
            out << "error: Catalog (" << cfg.platform.catalog_url << "), sandbox '" << sandbox
                << "': " << why << "\n";
        }
    }
}

}  // namespace

int run_online_check(const checked_config& loaded, std::ostream& out) {
    asio::io_context ioc;
    https_client client(ioc.get_executor(), loaded.tls, loaded.cfg.http.request_timeout,
                        loaded.proxy);
    bool ok = true;
    asio::co_spawn(ioc, probe(loaded, client, out, ok), [&](std::exception_ptr e) {
        if (!e) return;
        ok = false;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            out << "error: " << x.what() << "\n";
        }
    });
    ioc.run();
    client.close_idle();
    return ok ? exit_ok : exit_unavailable;
}

}  // namespace aep
