#include "enqueue.hpp"

#include "spool.hpp"

#include <ctime>
#include <ostream>
#include <sys/random.h>
#include <unistd.h>

namespace aep {

std::string new_entry_name() {
    static unsigned counter = 0;
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    unsigned char rnd[4] = {};
    (void)::getrandom(rnd, sizeof rnd, 0);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s-%d-%u-%02x%02x%02x%02x", stamp, static_cast<int>(::getpid()),
                  counter++, rnd[0], rnd[1], rnd[2], rnd[3]);
    return buf;
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
            return 64;
        }
    } else if (cfg.queues.size() == 1) {
        target = &cfg.queues.front();
    } else {
        err << "aep-batchd enqueue: the configuration has several queues; name one with --queue\n";
        return 64;
    }
    if (ids.empty()) {
        err << "aep-batchd enqueue: no dataset ids given\n";
        return 64;
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
        return 65;
    }
    const spool sp(target->spool);
    try {
        sp.ensure_layout();
        for (const auto& id : ids) {
            const auto name = new_entry_name();
            sp.enqueue(name, id + "\n");
            out << name << "\n";
        }
    } catch (const spool_error& e) {
        err << "aep-batchd enqueue: " << e.what() << "\n";
        return 73;
    }
    out.flush();
    return 0;
}

}  // namespace aep
