#include "app/config_check.hpp"

#include "aep/ims.hpp"
#include "io/https_client.hpp"
#include "io/spool_access.hpp"
#include "io/spool_check.hpp"

namespace aep {

namespace {

// What would stop the start: a path the daemon's user cannot make or use (a queue whose spool
// is not an absolute path has its error already). Warnings: an existing spool whose modes keep
// producers out or let them read what they should not, a spool the installed unit may not write.
void check_spools(const config& cfg, spool_rights_of rights, checked_config& out) {
    const auto writable = unit_writable_paths();
    const spool_user daemon_user =
        rights == spool_rights_of::service_user && writable ? spool_daemon_user() : spool_self_user();
    for (std::size_t i = 0; i < cfg.queues.size(); ++i) {
        const std::string key = "queues[" + std::to_string(i) + "].spool: ";
        const std::string& root = cfg.queues[i].spool;
        const std::string& data = cfg.queues[i].data_dir;
        if (!data.empty() && data.front() == '/') {
            if (auto p = data_dir_problem(data, daemon_user); !p.empty())
                out.errors.push_back("queues[" + std::to_string(i) + "].data_dir: " + p);
        }
        if (root.empty() || root.front() != '/') continue;
        for (const auto& w : audit_spool_layout(root)) out.warnings.push_back(key + w);
        for (const auto& e : spool_usability_problems(root, daemon_user)) out.errors.push_back(key + e);
        if (writable && !path_within(root, *writable)) {
            out.warnings.push_back(key + root +
                                   " is outside the directories the installed unit lets the "
                                   "daemon write (ReadWritePaths=): add it with `systemctl edit "
                                   "aep-batchd` ([Service] ReadWritePaths=" + root + ")");
        }
    }
}

}  // namespace

checked_config load_checked_config(const std::string& path, spool_rights_of rights) {
    checked_config out;
    auto loaded = load_config(path);
    for (const auto& w : loaded.validation.warnings) out.warnings.push_back(w);
    if (!loaded.validation.ok()) {
        for (const auto& e : loaded.validation.errors) out.errors.push_back(e.to_string());
        // The spools are checked all the same: one run of --check tells every problem.
        check_spools(loaded.cfg, rights, out);
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
    check_spools(out.cfg, rights, out);
    auto proxy = load_proxy_settings(out.cfg.http);
    if (!proxy.error.empty()) out.errors.push_back(proxy.error);
    out.proxy = std::move(proxy.settings);
    return out;
}

}  // namespace aep
