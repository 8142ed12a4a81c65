#include "app/daemon.hpp"

#include "aep/token_provider.hpp"
#include "app/health.hpp"
#include "app/reloader.hpp"
#include "io/group_sync.hpp"
#include "io/https_client.hpp"
#include "io/sd_notify.hpp"
#include "pipeline/api_channel.hpp"
#include "pipeline/intake.hpp"
#include "pipeline/workers.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdlib>
#include <fstream>

namespace aep {

namespace asio = boost::asio;

namespace {
// How long --once waits for a first access token before it gives up (exit 69).
constexpr auto once_token_wait = std::chrono::seconds(60);

// VmHWM: the most this process has had resident since exec.
std::int64_t peak_rss_kib() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmHWM:", 0) == 0) return std::atoll(line.c_str() + 6);
    }
    return 0;
}

// This boot's id: a run marker from another boot belongs to a run that ended with its machine.
// The kernel's, or, where the unit hides /proc/sys (ProcSubset=pid), the copy systemd read for
// it at start (LoadCredential=boot_id:/proc/sys/kernel/random/boot_id): a boot id does not
// change while a service runs.
std::string read_boot_id() {
    std::vector<std::string> sources = {"/proc/sys/kernel/random/boot_id"};
    if (const char* creds = std::getenv("CREDENTIALS_DIRECTORY"); creds && *creds)
        sources.push_back(std::string(creds) + "/boot_id");
    for (const auto& source : sources) {
        std::ifstream f(source);
        std::string id;
        std::getline(f, id);
        if (id.size() >= 32 && id.find_first_not_of("0123456789abcdef-") == std::string::npos)
            return id;
    }
    return {};
}
}  // namespace

// The wiring: who owns what, in the order they are built (and torn down in reverse).
class daemon_impl {
  public:
    daemon_impl(checked_config loaded, logger& log, run_options opts)
        : cfg_(std::move(loaded.cfg)),
          log_(log),
          opts_(std::move(opts)),
          client_(ioc_.get_executor(), loaded.tls, cfg_.http.request_timeout,
                  std::move(loaded.proxy)),
          tokens_(ioc_.get_executor(), client_, cfg_.auth, std::move(loaded.secret), log) {
        for (const auto& q : cfg_.queues) intake_.add_queue(q);
    }

    int run();

  private:
    asio::awaitable<void> start();
    void fail_start(const std::string& error, int code);
    void wait_for_signal();
    void begin_stop(const char* why);
    void entry_finished();
    void maybe_finish_once();
    void sync_at_exit();
    asio::awaitable<void> once_token_guard();

    config cfg_;
    logger& log_;
    run_options opts_;
    asio::io_context ioc_{1};
    file_pool files_{4};  // fsyncs overlap; more threads measured no faster (tests/bench)
    run_state run_{ioc_};
    metrics_counters metrics_;
    pipeline_context ctx_{ioc_, files_, log_, cfg_, run_, metrics_};
    https_client client_;
    token_provider tokens_;
    sd_notifier notify_;
    group_sync syncs_{ioc_, files_};
    api_channel api_{ctx_, client_};
    intake intake_{ctx_, read_boot_id(), [this] { maybe_finish_once(); }};
    workers workers_{ctx_, intake_, syncs_, api_, tokens_, [this] { entry_finished(); }};
    health health_{ctx_,    notify_, tokens_, client_, intake_, workers_.records(),
                   workers_.tracked()};
    reloader reloader_{ioc_,
                       {cfg_, opts_.config_path, log_, notify_, files_, run_, tokens_, client_,
                        api_, intake_, workers_, health_, [this] { maybe_finish_once(); }}};
    asio::signal_set signals_{ioc_, SIGINT, SIGTERM, SIGHUP};
    asio::steady_timer grace_timer_{ioc_};
    bool started_ = false;
    int exit_code_ = exit_ok;
};

asio::awaitable<void> daemon_impl::start() {
    // The first token is fetched while the spools are read: with a backlog, the first request
    // leaves as soon as both are there.
    tokens_.start();
    try {
        if (!opts_.once) intake_.open_watcher();
        for (auto& q : intake_.queues()) co_await intake_.start_queue(*q);
    } catch (const std::exception& e) {
        fail_start(e.what(), exit_cantcreat);
        co_return;
    }
    if (!cfg_.metrics.listen.empty()) {
        try {
            health_.listener() = health_.open(cfg_.metrics.listen);
        } catch (const std::exception& e) {
            fail_start(e.what(), exit_failure);
            co_return;
        }
    }
    started_ = true;
    log_.info("aep-batchd started", {{"queues", intake_.queues().size()},
                                     {"pending", intake_.work().pending()},
                                     {"concurrency", cfg_.http.concurrency},
                                     {"mode", opts_.once ? "once" : "daemon"}});
    workers_.spawn_to_target();
    // Spools are scanned and the first token is being fetched: ready for systemd.
    notify_.send("READY=1\nSTATUS=" + health_.status());
    health_.start_heartbeat();
    if (!opts_.once) intake_.follow();
    if (opts_.once) asio::co_spawn(ioc_, once_token_guard(), asio::detached);
    reloader_.started();
    maybe_finish_once();
}

// --once is for cron: a run that can get no access token gives up after a bounded wait instead
// of waiting for ever, leaving the entries where they are, and says why.
asio::awaitable<void> daemon_impl::once_token_guard() {
    const auto until = std::chrono::steady_clock::now() + once_token_wait;
    asio::steady_timer tick(ioc_);
    while (!run_.stopping()) {
        if (tokens_.stats().issued > 0) co_return;
        if (std::chrono::steady_clock::now() >= until) {
            std::string why = "IMS issued none";
            tokens_.healthy(why);
            log_.error("no access token within 60 s (--once); the entries stay in the spools",
                       {{"error", why}});
            exit_code_ = exit_unavailable;
            begin_stop("no access token (--once)");
            co_return;
        }
        tick.expires_after(std::chrono::milliseconds(200));
        co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

void daemon_impl::fail_start(const std::string& error, int code) {
    log_.error("cannot start", {{"error", error}});
    exit_code_ = code;
    begin_stop("start-up failed");
}

void daemon_impl::wait_for_signal() {
    signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) {
            reloader_.request();
            wait_for_signal();
            return;
        }
        begin_stop(sig == SIGTERM ? "SIGTERM" : "SIGINT");
    });
}

// The two-stage stop: nothing new starts; requests in flight may finish within
// http.stop_grace, then they are cut off (their entries stay in processing/).
void daemon_impl::begin_stop(const char* why) {
    if (!run_.stop()) return;
    const auto in_flight = intake_.work().in_flight();
    notify_.send("STOPPING=1\nSTATUS=stopping (" + std::string(why) + ")");
    if (in_flight > 0) {
        grace_timer_.expires_after(cfg_.http.stop_grace);
        grace_timer_.async_wait([this](const boost::system::error_code& ec) {
            if (ec || intake_.work().in_flight() == 0) return;
            log_.warn(
                "stop grace period over; cutting off requests in flight (their entries stay "
                "in processing/ and resume at the next start)",
                {{"in_flight", intake_.work().in_flight()}});
            client_.abort_in_flight();
        });
    } else {
        client_.abort_in_flight();  // at most a token request: nothing to wait for
    }
    log_.info("stopping", {{"reason", why}, {"in_flight", in_flight}});
    tokens_.stop();
    intake_.stop();
    api_.stop();
    if (auto& l = health_.listener()) l->stop();
    boost::system::error_code ec;
    signals_.cancel(ec);
}

void daemon_impl::entry_finished() {
    if (run_.stopping() && intake_.work().in_flight() == 0) grace_timer_.cancel();
    maybe_finish_once();
}

void daemon_impl::maybe_finish_once() {
    if (!opts_.once || run_.stopping() || !started_ || !intake_.drained()) return;
    begin_stop("spools drained (--once)");
}

// Records moved into done/ since the last sync: their moves reach the disk before exit (their
// content already has; a crash would only have left them to be filed at start). Then this
// run's marker goes: nothing of it is left only in the page cache.
void daemon_impl::sync_at_exit() {
    for (const auto& q : intake_.queues()) {
        if (!q->opened) continue;  // a start that failed before it: nothing was written there
        try {
            q->sp.sync_file_system();
            syncs_.count_fs_sync();
            end_run(q->sp.root(), q->run);
        } catch (const spool_error& e) {
            log_.warn("cannot sync the spool at stop",
                      {{"queue", q->cfg.name}, {"error", e.what()}});
        }
    }
}

int daemon_impl::run() {
    // Info lines (one per created batch) are written once per loop turn, not one write each.
    log_.defer_writes([this] { asio::post(ioc_, [this] { log_.flush(); }); });
    struct undefer {
        logger& log;
        ~undefer() { log.flush(true); }
    } undefer_at_return{log_};
    wait_for_signal();
    asio::co_spawn(ioc_, start(), [this](std::exception_ptr e) {
        if (!e) return;
        log_.error("start-up failed", {{"error", describe(e)}});
        exit_code_ = exit_failure;
        begin_stop("start-up failed");
    });
    ioc_.run();
    log_.flush(true);  // the loop is gone: from here every line is written at once
    client_.close_idle();
    files_.join();
    sync_at_exit();
    const auto& net = client_.stats();
    const auto& done = workers_.records().stats();
    // --once for cron: 0 only when every entry it processed is done.
    if (opts_.once && exit_code_ == exit_ok && done.failed > 0) exit_code_ = exit_dataerr;
    log_.info("aep-batchd stopped",
              {{"done", static_cast<std::int64_t>(done.done)},
               {"failed", static_cast<std::int64_t>(done.failed)},
               {"dir_fsyncs", static_cast<std::int64_t>(syncs_.dir_fsyncs())},
               {"fs_syncs", static_cast<std::int64_t>(syncs_.fs_syncs())},
               {"connections", static_cast<std::int64_t>(net.connections_opened)},
               {"tls_handshakes", static_cast<std::int64_t>(net.tls_handshakes)},
               {"tls_resumed", static_cast<std::int64_t>(net.tls_resumed)},
               {"peak_rss_kib", peak_rss_kib()}});
    return exit_code_;
}

batch_daemon::batch_daemon(checked_config loaded, logger& log, run_options opts)
    : impl_(std::make_unique<daemon_impl>(std::move(loaded), log, std::move(opts))) {}

batch_daemon::~batch_daemon() = default;

int batch_daemon::run() { return impl_->run(); }

}  // namespace aep
