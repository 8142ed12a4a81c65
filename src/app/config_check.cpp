#include "app/config_check.hpp"

#include "aep/ims.hpp"
#include "io/https_client.hpp"
#include "io/spool_access.hpp"

namespace aep {

checked_config load_checked_config(const std::string& path) {
    checked_config out;
    auto loaded = load_config(path);
    for (const auto& w : loaded.validation.warnings) out.warnings.push_back(w);
    if (!loaded.validation.ok()) {
        for (const auto& e : loaded.validation.errors) out.errors.push_back(e.to_string());
        return out;
    }
    out.cfg = std::move(loaded.cfg);
    auto secret = read_client_secret(out.cfg.auth);
    if (!secret.warning.empty()) out.warnings.push_back(secret.warning);
    if (!secret.error.empty()) out.errors.push_back(secret.error);
    out.secret = std::move(secret.secret);
    // The trust anchors and client certificate are loaded now, so that an unreadable or
    // mismatched file is reported by its key.
    try {
        out.tls = std::make_shared<boost::asio::ssl::context>(make_client_tls_context(out.cfg.tls));
    } catch (const std::exception& e) {
        out.errors.push_back(e.what());
    }
    // An existing spool whose modes keep producers out, or let them read what they should not
    // (a spool not made yet is made right at start).
    for (std::size_t i = 0; i < out.cfg.queues.size(); ++i) {
        for (const auto& w : audit_spool_layout(out.cfg.queues[i].spool))
            out.warnings.push_back("queues[" + std::to_string(i) + "].spool: " + w);
    }
    auto proxy = load_proxy_settings(out.cfg.http);
    if (!proxy.error.empty()) out.errors.push_back(proxy.error);
    out.proxy = std::move(proxy.settings);
    return out;
}

}  // namespace aep
