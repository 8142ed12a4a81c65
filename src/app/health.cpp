#include "app/health.hpp"

#include "app/cli.hpp"

#include "io/metrics.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <dirent.h>
#include <fstream>
#include <sys/resource.h>
#include <unistd.h>

namespace aep {

namespace asio = boost::asio;

namespace {

// The process's memory (virtual, resident) and descriptors (open, limit), as Prometheus client
// libraries report them.
void process_figures(metrics_gauges& g) {
    std::ifstream statm("/proc/self/statm");
    std::uint64_t size = 0, resident = 0;
    statm >> size >> resident;
    const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    g.virtual_memory_bytes = size * page;
    g.resident_memory_bytes = resident * page;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        std::uint64_t n = 0;
        while (const dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
        ::closedir(d);
        g.open_fds = n - 1;  // the directory's own
    }
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) g.max_fds = rl.rlim_cur;
}
}  // namespace

health::health(pipeline_context& ctx, sd_notifier& notify, const token_provider& tokens,
               const https_client& client, const intake& in, const recorder& records,
               const tracker& tracked)
    : ctx_(ctx),
      notify_(notify),
      tokens_(tokens),
      client_(client),
      intake_(in),
      records_(records),
      tracked_(tracked),
      heartbeat_timer_(ctx.ioc) {}

std::unique_ptr<metrics_server> health::open(const std::string& listen) {
    std::string why;
    const auto at = parse_listen_address(listen, why);
    if (!at) throw std::runtime_error("metrics.listen: " + why);
    auto srv = std::make_unique<metrics_server>(
        ctx_.ioc.get_executor(), *at, [this](std::string_view target) { return answer(target); });
    srv->start();
    ctx_.log.info("metrics and health listening", {{"address", srv->local_address()}});
    return srv;
}

bool health::healthy(std::string& why) const {
    if (ctx_.run.stopping()) {
        why = "stopping";
        return false;
    }
    if (!tokens_.healthy(why)) return false;
    const auto& work = intake_.work();
    const auto waiting = work.pending() + work.in_flight();
    const auto since = std::chrono::steady_clock::now() - records_.stats().last_progress;
    if (waiting > 0 && since > ctx_.cfg.metrics.stall_after) {
        why = "no batch created for " +
              std::to_string(std::chrono::duration_cast<std::chrono::seconds>(since).count()) +
              " s while " + std::to_string(waiting) + " entries wait (metrics.stall_after)";
        return false;
    }
    return true;
}

http_answer health::answer(std::string_view target) const {
    const auto path = target.substr(0, target.find('?'));
    http_answer a;
    if (path == "/healthz") {
        std::string why;
        if (healthy(why)) {
            a.body = "ok\n";
        } else {
            a.status = 503;
            a.body = "unhealthy: " + why + "\n";
        }
        return a;
    }
    if (path != "/metrics") {
        a.status = 404;
        a.body = "not found: try /metrics or /healthz\n";
        return a;
    }
    metrics_gauges g;
    const auto now = std::chrono::steady_clock::now();
    const auto& work = intake_.work();
    for (const auto& q : intake_.queues()) {
        if (q->retired) continue;
        metrics_gauges::queue mq;
        mq.name = q->cfg.name;
        mq.pending = work.pending(q->index);
        if (const auto seen = work.oldest_seen(q->index)) {
            mq.oldest_pending_age_seconds = std::chrono::duration<double>(now - *seen).count();
        }
        g.queues.push_back(std::move(mq));
    }
    g.in_flight = work.in_flight();
    g.tracking = tracked_.tracking();
    g.token_requests = tokens_.stats().requests;
    g.token_failures = tokens_.stats().failures;
    g.connections_opened = client_.stats().connections_opened;
    g.tls_handshakes = client_.stats().tls_handshakes;
    g.tls_resumed = client_.stats().tls_resumed;
    std::string why;
    g.healthy = healthy(why);
    g.reloads = reloads;
    g.reload_failures = reload_failures;
    g.start_time_seconds = unix_seconds(started_at_);
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    g.cpu_seconds = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                    static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    process_figures(g);
    g.version = AEP_BATCHD_VERSION;
    g.revision = build_revision();
    a.content_type = "text/plain; version=0.0.4; charset=utf-8";
    a.body = render_metrics(ctx_.metrics, g);
    return a;
}

std::string health::status() const {
    const auto& work = intake_.work();
    const auto& s = records_.stats();
    return (ctx_.run.stopping() ? "stopping: " : "") +
           status_text(work.pending(), work.in_flight(), s.done, s.failed, s.last_batch,
                       tracked_.tracking(), static_cast<std::size_t>(tracked_.uploading()));
}

void health::start_heartbeat() {
    if (notify_.enabled()) asio::co_spawn(ctx_.ioc, heartbeat(), asio::detached);
}

// Watchdog keep-alives come from the event loop itself, so a stuck loop trips the watchdog;
// STATUS= follows the counts at most once per tick. Both go on while a stop lets requests in
// flight finish, so a slow graceful stop is not mistaken for a hang.
asio::awaitable<void> health::heartbeat() {
    const auto tick =
        std::min(notify_.keepalive_interval().value_or(std::chrono::milliseconds(1000)),
                 std::chrono::milliseconds(1000));
    std::string shown;
    while (!ctx_.run.stopping() || intake_.work().in_flight() > 0) {
        std::string msg;
        if (notify_.keepalive_interval()) msg += "WATCHDOG=1\n";
        auto now_status = status();
        if (now_status != shown) {
            msg += "STATUS=" + now_status + "\n";
            shown = std::move(now_status);
        }
        if (!msg.empty()) notify_.send(msg);
        heartbeat_timer_.expires_after(tick);
        co_await heartbeat_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

}  // namespace aep
