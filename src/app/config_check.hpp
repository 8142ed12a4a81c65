// Everything the daemon needs before it can run, loaded and checked in one go: the YAML file,
// the client secret, the TLS files and the proxy settings. Used by --check, by start-up and by
// a reload (SIGHUP), so all three accept and refuse exactly the same things.
// Owns: collecting every problem into one list. Does no I/O beyond reading those files.
#pragma once

#include "config/config.hpp"
#include "config/proxy.hpp"

#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <string>
#include <vector>

namespace aep {

struct checked_config {
    config cfg;
    std::string secret;
    std::shared_ptr<boost::asio::ssl::context> tls;  // built from cfg.tls
    proxy_settings proxy;
    std::vector<std::string> errors;    // each names its key, file or variable
    std::vector<std::string> warnings;  // things that work but deserve attention
    bool ok() const { return errors.empty(); }
};

// Whose rights to the spools are checked: this process's (a start, a reload), or, for --check,
// those of the account the installed unit runs the daemon as (io/spool_check.hpp).
enum class spool_rights_of { this_process, service_user };

checked_config load_checked_config(const std::string& path,
                                   spool_rights_of rights = spool_rights_of::this_process);

}  // namespace aep
