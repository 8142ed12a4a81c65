#include "app/enqueue.hpp"

#include "app/exit_codes.hpp"
#include "io/random_id.hpp"
#include "io/spool.hpp"
#include "io/spool_access.hpp"

#include <cerrno>
#include <ctime>
#include <ostream>
#include <sys/stat.h>
#include <unistd.h>

namespace aep {

std::string new_entry_name() {
    static unsigned counter = 0;
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s-%d-%u-", stamp, static_cast<int>(::getpid()), counter++);
    return buf + random_hex(4);
}

int run_enqueue(const config& cfg, const std::optional<std::string>& queue,
                const std::vector<std::string>& ids, std::ostream& out, std::ostream& err) {
    const queue_config* target = nullptr;
    if (queue) {
        for (const auto& q : cfg.queues) {
            if (q.name == *queue) target = &q;
        }
        if (!target) {
            err << "aep-batchd enqueue: no queue named '" << *queue << "' in the configuration\n";
            return exit_usage;
        }
    } else if (cfg.queues.size() == 1) {
        target = &cfg.queues.front();
    } else {
        err << "aep-batchd enqueue: the configuration has several queues; name one with --queue\n";
        return exit_usage;
    }
    if (ids.empty()) {
        err << "aep-batchd enqueue: no dataset ids given\n";
        return exit_usage;
    }
    bool valid = true;
    for (const auto& id : ids) {
        if (!is_valid_dataset_id(id)) {
            err << "aep-batchd enqueue: not a dataset id (1-128 characters of [A-Za-z0-9_.-]): '";
            for (unsigned char c : id.substr(0, 140))
                err << (c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
            err << "'\n";
            valid = false;
        }
    }
    if (!valid) {
        err << "aep-batchd enqueue: nothing was enqueued\n";
        return exit_dataerr;
    }
    const spool sp(target->spool);
    // The daemon makes its spools at start; before its first start, the spool is made here for
    // the daemon's user (never for whoever runs this), or not at all.
    struct stat st {};
    if (::stat(sp.path("incoming", "").c_str(), &st) != 0 && errno == ENOENT) {
        try {
            for (const auto& w : sp.ensure_layout(spool_owner_for(sp.root())))
                err << "aep-batchd enqueue: warning: " << w << "\n";
        } catch (const spool_error& e) {
            err << "aep-batchd enqueue: " << e.what() << "\n";
            if (e.error_number() == EACCES || e.error_number() == EPERM) {
                err << "aep-batchd enqueue: the spool does not exist yet, and only root or the "
                       "daemon may create it: start or reload aep-batchd (it creates its spools)\n";
                return exit_noperm;
            }
            return exit_cantcreat;
        }
    }
    // Refused before anything is written: nothing is left behind.
    if (auto why = drop_permission_problem(sp.root()); !why.empty()) {
        err << "aep-batchd enqueue: " << why << "\n";
        return exit_noperm;
    }
    std::vector<std::pair<std::string, std::string>> entries;
    for (const auto& id : ids) entries.emplace_back(new_entry_name(), id + "\n");
    std::vector<std::string> enqueued;
    int rc = 0;
    try {
        sp.enqueue(entries, enqueued);
    } catch (const spool_error& e) {
        err << "aep-batchd enqueue: " << e.what() << "\n";
        rc = exit_cantcreat;
    }
    for (const auto& name : enqueued) out << name << "\n";
    out.flush();
    return rc;
}

}  // namespace aep
