#include "policy/reload_plan.hpp"

#include <map>

namespace aep {

reload_plan plan_reload(const config& current, const std::vector<running_queue>& running,
                        const config& next) {
    reload_plan plan;
    const auto differs = [&plan](bool same, const char* section) {
        if (!same) plan.changed.emplace_back(section);
    };
    differs(next.platform == current.platform, "platform");
    differs(next.auth == current.auth, "auth");
    differs(next.tls == current.tls, "tls");
    differs(next.http == current.http, "http");
    differs(next.retry == current.retry, "retry");
    differs(next.queues == current.queues, "queues");
    differs(next.upload == current.upload, "upload");
    differs(next.track == current.track, "track");
    differs(next.log == current.log, "log");
    differs(next.metrics == current.metrics, "metrics");

    std::map<std::string, std::size_t> by_spool;
    for (std::size_t i = 0; i < running.size(); ++i)
        by_spool[spool_identity(running[i].cfg->spool)] = i;
    std::vector<bool> kept(running.size(), false);
    for (const auto& qc : next.queues) {
        reload_plan::placement p;
        if (const auto it = by_spool.find(spool_identity(qc.spool)); it != by_spool.end()) {
            p.running = it->second;
            p.revived = running[it->second].retired;
            kept[it->second] = true;
        }
        plan.queues.push_back(p);
    }
    for (std::size_t i = 0; i < running.size(); ++i) {
        if (!running[i].retired && !kept[i]) plan.removed.push_back(i);
    }
    return plan;
}

}  // namespace aep
