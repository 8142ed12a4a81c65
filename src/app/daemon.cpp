#include "app/daemon.hpp"

#include "aep/batch_api.hpp"
#include "config/endpoint.hpp"
#include "aep/entry.hpp"
#include "io/https_client.hpp"
#include "io/inotify_watcher.hpp"
#include "io/metrics.hpp"
#include "io/metrics_server.hpp"
#include "config/proxy.hpp"
#include "io/random_id.hpp"
#include "policy/reload_plan.hpp"
#include "io/sd_notify.hpp"
#include "policy/send_gate.hpp"
#include "io/spool.hpp"
#include "aep/token_provider.hpp"
#include "aep/token_schedule.hpp"
#include "policy/work_queue.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

namespace aep {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
constexpr auto rescan_interval = 60s;  // safety net for events inotify could not deliver
// Up to this many files waiting for one sync are fsynced one by one; more take one syncfs.
constexpr std::size_t few_files_to_sync = 4;
// Syncs of one spool (or directory) under way at once; more callers wait and share the next.
constexpr int max_syncs_per_key = 2;
}  // namespace

namespace {
std::shared_ptr<const endpoint> make_endpoint(const std::string& url) {
    return std::make_shared<const endpoint>(*parse_endpoint(url).value);
}

double unix_seconds(std::chrono::system_clock::time_point t) {
    return std::chrono::duration<double>(t.time_since_epoch()).count();
}

// VmHWM: the most this process has had resident since exec.
std::int64_t peak_rss_kib() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmHWM:", 0) == 0) return std::atoll(line.c_str() + 6);
    }
    return 0;
}

std::int64_t unix_now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
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

std::uint64_t resident_bytes() {
    std::ifstream statm("/proc/self/statm");
    std::uint64_t size = 0, resident = 0;
    statm >> size >> resident;
    return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}
}  // namespace

std::string new_external_id() { return "aepb-" + random_hex(16); }

struct queue_state {
    std::size_t index;
    queue_config cfg;
    spool sp;
    int watch = -1;
    bool refilling = false;  // a listing of incoming/ is under way
    bool retired = false;    // removed by a reload; kept while its entries in flight finish
    // Set at start_queue: incoming/'s identity (externalIds derived from it), and this run's
    // marker and doubt moment (see spool::inspect_runs and spool::mark_run).
    std::optional<file_identity> incoming_id;
    spool::run_start run;
    // The marker is written while the first entries are taken and connections opened; only a
    // send that relies on it waits (see process).
    bool marking = false;
    std::unique_ptr<asio::steady_timer> marking_done;  // waiters sleep here; woken at the end
    std::string take_key;                              // its takes' group (see process), built once

    queue_state(std::size_t i, queue_config c)
        : index(i), cfg(std::move(c)), sp(cfg.spool), take_key("take:" + sp.root()) {}
};

// Everything one entry carries from claim to outcome; lives in its coroutine frame.
struct entry_job {
    queue_state* q = nullptr;
    std::string name;
    bool resumed = false;
    std::chrono::steady_clock::time_point started;
    batch_entry entry;
    int attempts = 0;
    bool may_exist = false;   // an earlier run may have sent it: ask Catalog before sending
    bool in_place = false;    // stamped: its record replaces its content in place
    bool torn = false;        // its content was torn after its batch was created: Catalog only
    std::string unparsed;     // torn is only suspected: why the content is not an entry
    work_item item;           // as taken from the work queue; finished with the entry
    bool handed_off = false;  // its recording went on in a task of its own (see record_later)
};

class daemon_impl {
  public:
    daemon_impl(checked_config loaded, logger& log, run_options opts)
        : cfg_(std::move(loaded.cfg)),
          log_(log),
          opts_(std::move(opts)),
          files_(4),  // fsyncs overlap; more threads measured no faster (tests/bench)
          client_(ioc_.get_executor(), loaded.tls, cfg_.http.request_timeout,
                  std::move(loaded.proxy)),
          tokens_(ioc_.get_executor(), client_, cfg_.auth, std::move(loaded.secret), log),
          import_ep_(make_endpoint(cfg_.platform.import_url)),
          catalog_ep_(make_endpoint(cfg_.platform.catalog_url)),
          work_ready_(ioc_),
          signals_(ioc_, SIGINT, SIGTERM, SIGHUP),
          rescan_timer_(ioc_) {
        work_ready_.expires_at(std::chrono::steady_clock::time_point::max());
        for (const auto& q : cfg_.queues) {
            queues_.push_back(std::make_unique<queue_state>(work_.add_queue(), q));
        }
    }

    int run();

  private:
    // Runs f on the file-I/O pool and resumes the caller on the loop with its result (or its
    // exception). f is copied into invoke_on_pool's frame. Callers pass a named local, never a
    // temporary: GCC 12 mishandles temporaries with destructors inside co_await expressions
    // (they are freed twice), so every coroutine here keeps such arguments in named locals.
    template <class F>
    static asio::awaitable<std::invoke_result_t<F>> invoke_on_pool(F f) {
        co_return f();
    }
    template <class F>
    asio::awaitable<std::invoke_result_t<F>> blocking(const F& f) {
        return asio::co_spawn(files_, invoke_on_pool(f), asio::use_awaitable);
    }

    asio::awaitable<void> start();
    void wait_for_signal();
    asio::awaitable<void> reload();
    asio::awaitable<bool> apply(checked_config& next);
    asio::awaitable<void> start_queue(queue_state& q);
    asio::awaitable<void> mark_run(queue_state& q);
    void warn_unmarked(const queue_state& q, const std::string& error);
    std::unique_ptr<metrics_server> open_metrics(const std::string& listen);
    http_answer answer(std::string_view target);
    bool healthy(std::string& why) const;
    asio::awaitable<void> scan(queue_state& q, bool include_processing);
    asio::awaitable<void> watch();
    asio::awaitable<void> periodic_rescan();
    asio::awaitable<void> heartbeat();
    std::string status() const;
    asio::awaitable<void> worker();
    asio::awaitable<void> process(entry_job& job);
    asio::awaitable<void> deliver(entry_job& job);
    asio::awaitable<bool> pause(std::chrono::milliseconds d);
    asio::awaitable<bool> pass_gate();
    asio::awaitable<std::optional<http_outcome>> exchange(const char* kind, const endpoint& ep,
                                                          http::request<http::string_body>& req);
    // One caller's part in a group sync. `before` and `after` run on the file-I/O pool in the
    // same trip as the sync, so that a group of entries costs one hand-off, not one each.
    struct sync_item {
        std::string file;              // the changed file, fsynced itself when few items wait
        std::function<bool()> before;  // before the sync; false: nothing of this item to sync
        std::function<void()> after;   // once the sync covered this item
        bool synced = false;           // the sync covered it (after then ran, or failed)
        bool finished = false;         // its sync has ended, one way or the other
        std::string error;             // what failed: before, the sync, or after
    };
    using sync_op = std::function<void(const std::vector<std::string>& files)>;
    asio::awaitable<void> sync_dir(const std::string& dir);
    asio::awaitable<void> sync_spool(const spool& sp, const std::string& file);
    asio::awaitable<void> group_sync(const std::string& key, sync_item& item, sync_op op);
    asio::awaitable<void> spool_group(const spool& sp, sync_item& item);
    asio::awaitable<void> run_syncs(std::string key, sync_op op);
    struct sync_state;
    void start_sync(const std::string& key, sync_state& st, const sync_op& op);
    void slow_down(const std::string& why, std::optional<std::chrono::milliseconds> hint);
    asio::awaitable<void> record_success(entry_job& job, create_result& r, bool recovered);
    asio::awaitable<void> record_later(entry_job& job, create_result& r, bool recovered);
    asio::awaitable<void> record_and_finish(entry_job job, create_result r, bool recovered);
    void finish_item(const work_item& item);
    asio::awaitable<void> record_failure(entry_job& job, const std::string& reason,
                                         std::optional<unsigned> http_status,
                                         std::string_view response_body,
                                         std::string_view request_id);
    std::chrono::milliseconds retry_delay(int attempt,
                                          std::optional<std::chrono::milliseconds> hint);

    void add_pending(queue_state& q, const std::string& name);
    void notify_work(std::size_t n);
    void begin_stop(const char* why);
    void maybe_finish_once();
    void maybe_refill();
    void recheck_later(queue_state& q, const std::string& name);
    asio::awaitable<void> recheck(queue_state& q, std::string name);
    bool created_complete(const queue_state& q, const std::string& name) const;
    void spawn_worker();
    // Four workers per request slot: while some requests are on the wire, the others' entries
    // are being taken and synced in groups, so a freed slot finds an entry ready.
    int worker_target() const { return 4 * cfg_.http.concurrency; }
    asio::awaitable<bool> acquire_slot();
    bool release_slot();  // true when a request waiting for a slot was woken
    struct slot_guard;

    config cfg_;
    logger& log_;
    run_options opts_;
    asio::io_context ioc_{1};
    asio::thread_pool files_;
    https_client client_;
    token_provider tokens_;
    // Shared so that a request under way keeps the endpoint it started with across a reload.
    std::shared_ptr<const endpoint> import_ep_;
    std::shared_ptr<const endpoint> catalog_ep_;
    std::vector<std::unique_ptr<queue_state>> queues_;  // retired ones too (indices are stable)
    // 1024 names per queue: memory does not grow with the backlog (the rest waits on disk and
    // is listed again when the queue has drained to half, long before it runs dry).
    work_queue work_{0, 1024};
    send_gate gate_{cfg_.http.rate_limit, cfg_.http.concurrency};
    asio::steady_timer work_ready_;  // idle workers wait here; cancel_one() wakes one
    asio::signal_set signals_;
    asio::steady_timer rescan_timer_;
    std::unique_ptr<inotify_watcher> watcher_;
    std::set<asio::steady_timer*> sleepers_;  // retry pauses, cut short at stop

    // Group commit: a change (a rename into a directory, a stamp, a record written in place)
    // is durable once a sync that started after it has ended: a directory fsync, or syncfs of
    // the spool's file system. All entries that made changes while a sync was running share
    // the next one. Keyed by "dir:<path>" or "fs:<spool root>"; takes, which sync nothing, group
    // the same way under "take:<spool root>".
    struct sync_state {
        explicit sync_state(asio::io_context& ioc) : ioc(ioc) { next_done = fresh_signal(); }
        std::shared_ptr<asio::steady_timer> fresh_signal() const {
            auto t = std::make_shared<asio::steady_timer>(ioc);
            t->expires_at(std::chrono::steady_clock::time_point::max());
            return t;
        }
        asio::io_context& ioc;
        int running = 0;                  // syncs under way (at most max_syncs_per_key)
        std::vector<sync_item*> pending;  // callers waiting for a sync to start
        // The pending callers sleep here; their sync wakes them, and only them (waking every
        // waiter at each sync's end had cost a wake-up per waiting record, up to 16 per
        // request slot, for each sync: CPU per entry grew with http.concurrency).
        std::shared_ptr<asio::steady_timer> next_done;
    };
    std::map<std::string, std::unique_ptr<sync_state>> syncs_;
    int syncs_running_ = 0;  // over all keys
    sd_notifier notify_;
    asio::steady_timer heartbeat_timer_{ioc_};
    asio::steady_timer grace_timer_{ioc_};
    std::string last_batch_;
    std::uint64_t dir_fsyncs_ = 0;
    std::uint64_t fs_syncs_ = 0;
    std::mt19937_64 rng_{std::random_device{}()};
    const std::string boot_id_ = read_boot_id();
    bool stopping_ = false;
    bool started_ = false;
    int rechecks_ = 0;  // entries being written in place, waiting to be looked at again
    int exit_code_ = exit_ok;
    std::uint64_t done_count_ = 0, failed_count_ = 0;
    int workers_ = 0;    // running; more than http.concurrency after a reload lowered it
    int recording_ = 0;  // created batches being recorded apart from their worker
    // Request slots: at most http.concurrency requests in flight. There are twice as many
    // workers, so that while requests are out, the next entries are claimed, read and stamped,
    // and a freed slot is used at once (a pipeline: the disk is never on a request's path).
    int slots_in_use_ = 0;
    asio::steady_timer slot_free_{ioc_};  // workers waiting for a slot; release wakes one
    bool reloading_ = false;              // a reload is under way
    bool reload_again_ = false;           // SIGHUP arrived meanwhile (or before start-up finished)
    std::uint64_t reloads_ = 0, reload_failures_ = 0;
    metrics_counters metrics_;
    std::unique_ptr<metrics_server> metrics_server_;
    const std::chrono::system_clock::time_point started_at_ = std::chrono::system_clock::now();
    std::chrono::system_clock::time_point last_success_{};  // epoch: none yet
    std::chrono::steady_clock::time_point last_progress_ = std::chrono::steady_clock::now();
};

// ---------------------------------------------------------------------------------------------
// Pending work

void daemon_impl::add_pending(queue_state& q, const std::string& name) {
    if (work_.add_incoming(q.index, name, std::chrono::steady_clock::now())) notify_work(1);
}

void daemon_impl::notify_work(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        if (work_ready_.cancel_one() == 0) break;
    }
}

// ---------------------------------------------------------------------------------------------
// Start, scan, watch, stop

asio::awaitable<void> daemon_impl::scan(queue_state& q, bool include_processing) {
    const spool* sp = &q.sp;
    if (include_processing) {
        const auto op = [sp] { return sp->list("processing"); };
        auto names = co_await blocking(op);
        std::size_t resumed = 0;
        const auto now = std::chrono::steady_clock::now();
        for (const auto& n : names) resumed += work_.add_resumed(q.index, n, now) ? 1 : 0;
        if (resumed > 0) {
            log_.info("resuming entries left in processing/",
                      {{"queue", q.cfg.name}, {"count", resumed}});
            notify_work(resumed);
        }
    }
    // Read incoming/ only as far as the queue can hold (twice, since names already pending are
    // listed again): a backlog of any size costs bounded memory and a quick start.
    const std::size_t limit = work_.max_pending() * 2;
    const auto op = [sp, limit] { return sp->list("incoming", limit); };
    const auto started = work_.listing_started(q.index);
    auto names = co_await blocking(op);
    const auto now = std::chrono::steady_clock::now();
    std::size_t added = 0;
    for (const auto& n : names) added += work_.add_listed(q.index, n, now) ? 1 : 0;
    notify_work(added);
    work_.refilled(q.index, names.size() < limit, started);
}

void daemon_impl::recheck_later(queue_state& q, const std::string& name) {
    ++rechecks_;
    asio::co_spawn(ioc_, recheck(q, name), asio::detached);
}

asio::awaitable<void> daemon_impl::recheck(queue_state& q, std::string name) {
    co_await pause(std::chrono::milliseconds(500));
    --rechecks_;
    if (!stopping_) add_pending(q, name);
    maybe_finish_once();
}

// Lists incoming/ again for queues that turned names away and have drained to half.
void daemon_impl::maybe_refill() {
    if (stopping_) return;
    for (auto& qp : queues_) {
        queue_state& q = *qp;
        if (q.retired || q.refilling || !work_.needs_refill(q.index)) continue;
        q.refilling = true;
        asio::co_spawn(ioc_, scan(q, false), [this, &q](std::exception_ptr e) {
            q.refilling = false;
            if (e) {
                log_.error("cannot list incoming/; will try again",
                           {{"queue", q.cfg.name}, {"error", describe(e)}});
            } else {
                maybe_refill();  // what finished during this listing may ask for another
            }
            maybe_finish_once();
        });
    }
}

// Prepares a queue's spool, watches it and reads what waits in it: at start, and for a queue a
// reload added. Throws when the spool cannot be used.
asio::awaitable<void> daemon_impl::start_queue(queue_state& q) {
    const spool* sp = &q.sp;
    const std::string boot = boot_id_;
    spool::run_start run;
    std::optional<file_identity> incoming_id;
    std::vector<std::string> layout_warnings;
    const auto op = [sp, &boot, &run, &incoming_id, &layout_warnings] {
        layout_warnings = sp->ensure_layout(daemon_spool_owner());
        incoming_id = sp->incoming_identity();
        if (boot.empty()) {
            run.doubt_before_ns = unix_now_ns();  // cannot tell boots apart: the safe side
        } else {
            run = sp->inspect_runs(boot, unix_now_ns());
        }
        return sp->remove_stale_temps();
    };
    co_await blocking(op);
    for (const auto& w : layout_warnings) log_.warn(w, {{"queue", q.cfg.name}});
    q.run = std::move(run);
    q.incoming_id = incoming_id;
    if (!q.marking_done) {
        q.marking_done = std::make_unique<asio::steady_timer>(ioc_);
        q.marking_done->expires_at(std::chrono::steady_clock::time_point::max());
    }
    if (!q.incoming_id) {
        log_.info(
            "the spool's file system records no birth times; each new externalId is "
            "random and synced before its first request (slower)",
            {{"queue", q.cfg.name}});
    }
    if (boot.empty()) {
        warn_unmarked(q,
                      "no boot id in /proc/sys/kernel/random/boot_id nor in the credential "
                      "boot_id (the shipped unit loads it: LoadCredential=boot_id:...)");
    } else {
        q.marking = true;
        asio::co_spawn(ioc_, mark_run(q), asio::detached);
    }
    if (q.run.after_lost_boot) {
        log_.warn(
            "an earlier run ended with its machine; entries from before this start are "
            "looked up in Catalog before they are sent",
            {{"queue", q.cfg.name}});
    }
    // Watch before scanning, so nothing that arrives in between is missed.
    if (watcher_) q.watch = watcher_->add_watch(q.sp.path("incoming", ""));
    co_await scan(q, true);
}

// Writes the queue's run marker (spool::mark_run) on the file threads, then wakes the sends
// waiting for it.
asio::awaitable<void> daemon_impl::mark_run(queue_state& q) {
    const spool* sp = &q.sp;
    const std::string boot = boot_id_;
    spool::run_start marked;
    marked.stale = q.run.stale;
    const auto op = [sp, &boot, &marked] {
        sp->mark_run(marked, boot);
        return true;
    };
    try {
        co_await blocking(op);
    } catch (const std::exception& e) {  // not expected: mark_run reports its own failures
        marked.problem = e.what();
    }
    q.run.stale.clear();
    q.run.marked = marked.marked;
    q.run.problem = std::move(marked.problem);
    q.run.marker = std::move(marked.marker);
    q.run.lock = std::move(marked.lock);
    q.marking = false;
    q.marking_done->cancel();
    if (!q.run.marked) warn_unmarked(q, q.run.problem);
}

void daemon_impl::warn_unmarked(const queue_state& q, const std::string& error) {
    log_.warn(
        "cannot mark this run in the spool; every new externalId is synced before its first "
        "request (slower)",
        {{"queue", q.cfg.name}, {"error", error}});
}

asio::awaitable<void> daemon_impl::start() {
    // The first token is fetched while the spools are read: with a backlog, the first request
    // leaves as soon as both are there.
    tokens_.start();
    try {
        if (!opts_.once) watcher_ = std::make_unique<inotify_watcher>(ioc_.get_executor());
        for (auto& q : queues_) co_await start_queue(*q);
    } catch (const std::exception& e) {
        log_.error("cannot start", {{"error", e.what()}});
        exit_code_ = exit_cantcreat;
        begin_stop("start-up failed");
        co_return;
    }
    if (!cfg_.metrics.listen.empty()) {
        try {
            metrics_server_ = open_metrics(cfg_.metrics.listen);
        } catch (const std::exception& e) {
            log_.error("cannot start", {{"error", e.what()}});
            exit_code_ = exit_failure;
            begin_stop("start-up failed");
            co_return;
        }
    }
    started_ = true;
    log_.info("aep-batchd started", {{"queues", queues_.size()},
                                     {"pending", work_.pending()},
                                     {"concurrency", cfg_.http.concurrency},
                                     {"mode", opts_.once ? "once" : "daemon"}});
    slot_free_.expires_at(std::chrono::steady_clock::time_point::max());
    for (int i = 0; i < worker_target(); ++i) {
        spawn_worker();
    }
    // Spools are scanned and the first token is being fetched: ready for systemd.
    notify_.send("READY=1\nSTATUS=" + status());
    if (notify_.enabled()) asio::co_spawn(ioc_, heartbeat(), asio::detached);
    if (!opts_.once) {
        asio::co_spawn(ioc_, watch(), asio::detached);
        asio::co_spawn(ioc_, periodic_rescan(), asio::detached);
    }
    if (reload_again_) asio::co_spawn(ioc_, reload(), asio::detached);
    maybe_finish_once();
}

// ---------------------------------------------------------------------------------------------
// Reload (SIGHUP)

void daemon_impl::wait_for_signal() {
    signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) {
            if (!stopping_) asio::co_spawn(ioc_, reload(), asio::detached);
            wait_for_signal();
            return;
        }
        begin_stop(sig == SIGTERM ? "SIGTERM" : "SIGINT");
    });
}

// Reads the configuration and the secret again. A configuration with any error is refused
// whole and the running one stays; a good one takes effect without dropping anything: requests
// in flight finish with the settings they started with, entries of a removed queue stay in its
// spool, and an added queue is scanned like at start.
asio::awaitable<void> daemon_impl::reload() {
    if (reloading_ || !started_) {
        reload_again_ = true;  // run once the current reload (or start-up) is over
        co_return;
    }
    reloading_ = true;
    do {
        reload_again_ = false;
        timespec ts{};
        ::clock_gettime(CLOCK_MONOTONIC, &ts);
        const auto usec = static_cast<std::uint64_t>(ts.tv_sec) * 1000000u +
                          static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
        notify_.send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) +
                     "\nSTATUS=reloading the configuration");
        log_.info("reloading the configuration", {{"config", opts_.config_path}});
        const std::string path = opts_.config_path;
        const auto load = [path] { return load_checked_config(path); };
        checked_config next;
        try {
            next = co_await blocking(load);
        } catch (const std::exception& e) {
            next.errors.push_back(e.what());
        }
        ++reloads_;
        bool applied = false;
        if (next.ok()) {
            try {
                applied = co_await apply(next);
            } catch (const std::exception& e) {
                next.errors.push_back(e.what());
            }
        }
        if (!applied) {
            ++reload_failures_;
            for (const auto& e : next.errors) {
                log_.error("reload refused; the running configuration stays",
                           {{"config", opts_.config_path}, {"error", e}});
            }
        }
        if (stopping_) break;
        notify_.send("READY=1\nSTATUS=" + status());
    } while (reload_again_ && !stopping_);
    reloading_ = false;
}

asio::awaitable<bool> daemon_impl::apply(checked_config& next) {
    config& n = next.cfg;
    std::vector<running_queue> running;
    for (const auto& q : queues_) running.push_back({&q->cfg, q->retired});
    const reload_plan plan = plan_reload(cfg_, running, n);
    // First everything that can fail, before anything changes: new spools must be usable and
    // a new metrics address must be free.
    for (std::size_t i = 0; i < n.queues.size(); ++i) {
        if (!plan.queues[i].starts()) continue;
        const queue_config& qc = n.queues[i];
        const std::string dir = qc.spool;
        std::vector<std::string> layout_warnings;
        const auto prepare = [dir, &layout_warnings] {
            layout_warnings = spool(dir).ensure_layout(daemon_spool_owner());
            return true;
        };
        try {
            co_await blocking(prepare);
            for (const auto& w : layout_warnings) log_.warn(w, {{"queue", qc.name}});
        } catch (const std::exception& e) {
            next.errors.push_back(std::string("queue '") + qc.name + "': " + e.what());
        }
    }
    if (!next.errors.empty() || stopping_) co_return false;
    // Then the metrics address: a refused reload leaves the old listener where it was.
    std::unique_ptr<metrics_server> new_metrics;
    const bool metrics_moved = n.metrics.listen != cfg_.metrics.listen;
    if (metrics_moved && !n.metrics.listen.empty()) {
        try {
            new_metrics = open_metrics(n.metrics.listen);
        } catch (const std::exception& first) {
            std::string why = first.what();
            if (metrics_server_) {
                // The old listener may hold that very address: close it and try again, and
                // when that fails too, put it back on the port it had.
                const std::string old_at = metrics_server_->local_address();
                metrics_server_->stop();
                try {
                    new_metrics = open_metrics(n.metrics.listen);
                } catch (const std::exception& second) {
                    why = second.what();
                    metrics_server_ = open_metrics(old_at);
                }
            }
            if (!new_metrics) next.errors.push_back(why);
        }
    }
    if (!next.errors.empty() || stopping_) co_return false;

    std::vector<std::string> changed = plan.changed;

    log_.set_config(n.log);
    if (tokens_.reconfigure(n.auth, std::move(next.secret))) changed.push_back("secret");
    // TLS files may have changed on disk under the same names: always take the new context.
    client_.reconfigure(next.tls, n.http.request_timeout, std::move(next.proxy));
    import_ep_ = make_endpoint(n.platform.import_url);
    catalog_ep_ = make_endpoint(n.platform.catalog_url);
    gate_.set_rate(n.http.rate_limit, n.http.concurrency);
    if (metrics_moved) {
        if (metrics_server_) metrics_server_->stop();
        metrics_server_ = std::move(new_metrics);
    }

    // Queues are matched by spool directory: one that stays keeps its pending entries. The
    // removed ones are retired first, while `plan`'s indices still name queues_ as it was.
    std::string added_names, removed_names;
    for (const std::size_t i : plan.removed) {
        queue_state& q = *queues_[i];
        q.retired = true;
        work_.retire(q.index);
        if (watcher_ && q.watch >= 0) watcher_->remove_watch(q.watch);
        q.watch = -1;
        removed_names += (removed_names.empty() ? "" : ",") + q.cfg.name;
    }
    std::vector<queue_state*> added;
    for (std::size_t i = 0; i < n.queues.size(); ++i) {
        const auto& p = plan.queues[i];
        queue_state* q = nullptr;
        if (p.running) {
            q = queues_[*p.running].get();
            q->cfg = n.queues[i];
            if (p.revived) {
                q->retired = false;
                work_.revive(q->index);
            }
        } else {
            queues_.push_back(std::make_unique<queue_state>(work_.add_queue(), n.queues[i]));
            q = queues_.back().get();
        }
        if (p.starts()) added.push_back(q);
    }
    for (auto* q : added) added_names += (added_names.empty() ? "" : ",") + q->cfg.name;

    const int old_concurrency = cfg_.http.concurrency;
    cfg_ = n;
    for (int i = workers_; i < worker_target(); ++i) spawn_worker();
    if (cfg_.http.concurrency < old_concurrency) work_ready_.cancel();  // extra idle ones end
    slot_free_.cancel();  // waiters look at the new number of slots

    std::string what;
    for (const auto& c : changed) what += (what.empty() ? "" : ",") + c;
    log_.info("configuration reloaded", {{"config", opts_.config_path},
                                         {"changed", what.empty() ? "nothing" : what},
                                         {"queues_added", added_names},
                                         {"queues_removed", removed_names},
                                         {"queues", n.queues.size()},
                                         {"concurrency", cfg_.http.concurrency}});
    for (auto* q : added) {
        try {
            co_await start_queue(*q);
        } catch (const std::exception& e) {
            // The spool was usable a moment ago; the periodic rescan tries again.
            log_.error("cannot start an added queue; will retry",
                       {{"queue", q->cfg.name}, {"error", e.what()}});
        }
    }
    maybe_finish_once();
    co_return true;
}

// ---------------------------------------------------------------------------------------------
// Metrics and health

std::unique_ptr<metrics_server> daemon_impl::open_metrics(const std::string& listen) {
    std::string why;
    const auto at = parse_listen_address(listen, why);
    if (!at) throw std::runtime_error("metrics.listen: " + why);
    auto srv = std::make_unique<metrics_server>(
        ioc_.get_executor(), *at, [this](std::string_view target) { return answer(target); });
    srv->start();
    log_.info("metrics and health listening", {{"address", srv->local_address()}});
    return srv;
}

bool daemon_impl::healthy(std::string& why) const {
    if (stopping_) {
        why = "stopping";
        return false;
    }
    if (!tokens_.healthy(why)) return false;
    const auto waiting = work_.pending() + work_.in_flight();
    const auto since = std::chrono::steady_clock::now() - last_progress_;
    if (waiting > 0 && since > cfg_.metrics.stall_after) {
        why = "no batch created for " +
              std::to_string(std::chrono::duration_cast<std::chrono::seconds>(since).count()) +
              " s while " + std::to_string(waiting) + " entries wait (metrics.stall_after)";
        return false;
    }
    return true;
}

http_answer daemon_impl::answer(std::string_view target) {
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
    for (const auto& q : queues_) {
        if (q->retired) continue;
        metrics_gauges::queue mq;
        mq.name = q->cfg.name;
        mq.pending = work_.pending(q->index);
        if (const auto seen = work_.oldest_seen(q->index)) {
            mq.oldest_pending_age_seconds = std::chrono::duration<double>(now - *seen).count();
        }
        g.queues.push_back(std::move(mq));
    }
    g.in_flight = work_.in_flight();
    if (last_success_ != std::chrono::system_clock::time_point{}) {
        g.last_success_timestamp_seconds = unix_seconds(last_success_);
    }
    g.token_requests = tokens_.stats().requests;
    g.token_failures = tokens_.stats().failures;
    g.connections_opened = client_.stats().connections_opened;
    g.tls_handshakes = client_.stats().tls_handshakes;
    g.tls_resumed = client_.stats().tls_resumed;
    std::string why;
    g.healthy = healthy(why);
    g.reloads = reloads_;
    g.reload_failures = reload_failures_;
    g.start_time_seconds = unix_seconds(started_at_);
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    g.cpu_seconds = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                    static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    g.resident_memory_bytes = resident_bytes();
    g.version = AEP_BATCHD_VERSION;
    a.content_type = "text/plain; version=0.0.4; charset=utf-8";
    a.body = render_metrics(metrics_, g);
    return a;
}

asio::awaitable<void> daemon_impl::watch() {
    while (!stopping_) {
        decoded_events ev;
        try {
            ev = co_await watcher_->next();
        } catch (const boost::system::system_error& e) {
            if (stopping_) co_return;
            log_.error("inotify failed; falling back to periodic scans", {{"error", e.what()}});
            co_return;
        }
        if (ev.overflow) {
            log_.warn("inotify queue overflowed; rescanning every spool");
            for (auto& q : queues_) {
                if (!q->retired) co_await scan(*q, false);
            }
            continue;
        }
        for (const auto& e : ev.events) {
            for (auto& q : queues_) {
                if (q->watch != e.watch) continue;
                // A regular file created in place is complete only when closed (IN_CLOSE_WRITE
                // follows); a symlink, fifo, device, directory or hard link is complete when
                // created, and is claimed at once to be refused with a reason.
                if ((e.mask & (IN_MOVED_TO | IN_CLOSE_WRITE)) == 0 &&
                    !created_complete(*q, e.name)) {
                    continue;
                }
                add_pending(*q, e.name);
            }
        }
    }
}

// Whether an entry that inotify saw created needs no close to be complete. One lstat of a name
// the kernel just reported: cached metadata, no wait for the disk.
bool daemon_impl::created_complete(const queue_state& q, const std::string& name) const {
    struct stat st {};
    if (::lstat(q.sp.path("incoming", name).c_str(), &st) != 0) return false;
    return !S_ISREG(st.st_mode) || st.st_nlink > 1;
}

asio::awaitable<void> daemon_impl::periodic_rescan() {
    while (!stopping_) {
        rescan_timer_.expires_after(rescan_interval);
        auto [ec] = co_await rescan_timer_.async_wait(nothrow);
        if (ec || stopping_) co_return;
        for (auto& q : queues_) {
            if (q->retired) continue;
            try {
                // Only when idle: a rescan exists to catch what events missed, not to compete.
                if (work_.pending(q->index) == 0) co_await scan(*q, false);
            } catch (const std::exception& e) {
                log_.warn("rescan failed", {{"queue", q->cfg.name}, {"error", e.what()}});
            }
        }
    }
}

std::string daemon_impl::status() const {
    return (stopping_ ? "stopping: " : "") +
           status_text(work_.pending(), work_.in_flight(), done_count_, failed_count_, last_batch_);
}

// Watchdog keep-alives come from the event loop itself, so a stuck loop trips the watchdog;
// STATUS= follows the counts at most once per tick. Both go on while a stop lets requests in
// flight finish, so a slow graceful stop is not mistaken for a hang.
asio::awaitable<void> daemon_impl::heartbeat() {
    const auto tick =
        std::min(notify_.keepalive_interval().value_or(std::chrono::milliseconds(1000)),
                 std::chrono::milliseconds(1000));
    std::string shown;
    while (!stopping_ || work_.in_flight() > 0) {
        std::string msg;
        if (notify_.keepalive_interval()) msg += "WATCHDOG=1\n";
        auto now_status = status();
        if (now_status != shown) {
            msg += "STATUS=" + now_status + "\n";
            shown = std::move(now_status);
        }
        if (!msg.empty()) notify_.send(msg);
        heartbeat_timer_.expires_after(tick);
        co_await heartbeat_timer_.async_wait(nothrow);
    }
}

void daemon_impl::begin_stop(const char* why) {
    if (stopping_) return;
    stopping_ = true;
    notify_.send("STOPPING=1\nSTATUS=stopping (" + std::string(why) + ")");
    if (work_.in_flight() > 0) {
        // Requests in flight may finish within http.stop_grace; then they are cut off.
        grace_timer_.expires_after(cfg_.http.stop_grace);
        grace_timer_.async_wait([this](const boost::system::error_code& ec) {
            if (ec || work_.in_flight() == 0) return;
            log_.warn(
                "stop grace period over; cutting off requests in flight (their entries stay "
                "in processing/ and resume at the next start)",
                {{"in_flight", work_.in_flight()}});
            client_.abort_in_flight();
        });
    } else {
        client_.abort_in_flight();  // at most a token request: nothing to wait for
    }
    log_.info("stopping", {{"reason", why}, {"in_flight", work_.in_flight()}});
    tokens_.stop();
    work_ready_.cancel();
    rescan_timer_.cancel();
    for (auto* t : sleepers_) t->cancel();
    slot_free_.cancel();
    if (watcher_) watcher_->close();
    if (metrics_server_) metrics_server_->stop();
    boost::system::error_code ec;
    signals_.cancel(ec);
}

void daemon_impl::maybe_finish_once() {
    if (!opts_.once || stopping_ || !started_ || !work_.idle() || rechecks_ > 0) return;
    begin_stop("spools drained (--once)");
}

// A worker ends only by a bug; keep the daemon serving with a fresh one.
void daemon_impl::spawn_worker() {
    ++workers_;
    asio::co_spawn(ioc_, worker(), [this](std::exception_ptr e) {
        if (!e) return;
        log_.error("worker failed unexpectedly; restarting it", {{"error", describe(e)}});
        if (!stopping_) spawn_worker();
    });
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
    // Records moved into done/ since the last sync: their moves reach the disk before exit
    // (their content already has; a crash would only have left them to be filed at start).
    // Then this run's marker goes: nothing of it is left only in the page cache.
    for (const auto& q : queues_) {
        try {
            q->sp.sync_file_system();
            ++fs_syncs_;
            q->sp.end_run(q->run);
        } catch (const spool_error& e) {
            log_.warn("cannot sync the spool at stop",
                      {{"queue", q->cfg.name}, {"error", e.what()}});
        }
    }
    const auto& net = client_.stats();
    log_.info("aep-batchd stopped",
              {{"done", static_cast<std::int64_t>(done_count_)},
               {"failed", static_cast<std::int64_t>(failed_count_)},
               {"dir_fsyncs", static_cast<std::int64_t>(dir_fsyncs_)},
               {"fs_syncs", static_cast<std::int64_t>(fs_syncs_)},
               {"connections", static_cast<std::int64_t>(net.connections_opened)},
               {"tls_handshakes", static_cast<std::int64_t>(net.tls_handshakes)},
               {"tls_resumed", static_cast<std::int64_t>(net.tls_resumed)},
               {"peak_rss_kib", peak_rss_kib()}});
    return exit_code_;
}

// ---------------------------------------------------------------------------------------------
// Workers and entries

asio::awaitable<void> daemon_impl::worker() {
    // Counted out as the frame ends (co_return or exception), before any other worker runs.
    struct counted {
        int& n;
        ~counted() { --n; }
    } count{workers_};
    while (!stopping_) {
        if (workers_ > worker_target()) co_return;  // a reload lowered the concurrency
        auto item = work_.take();
        maybe_refill();
        if (!item) {
            if (work_.in_flight() == 0) last_progress_ = std::chrono::steady_clock::now();
            maybe_finish_once();
            if (stopping_) break;
            co_await work_ready_.async_wait(nothrow);
            continue;
        }
        entry_job job;
        job.q = queues_[item->queue].get();
        job.name = item->name;
        job.resumed = item->resumed;
        job.item = *item;
        try {
            co_await process(job);
        } catch (const std::exception& e) {
            // The entry stays where it is (incoming/ or processing/) and is retried by the
            // next scan or start; nothing is lost.
            log_.error("entry processing failed unexpectedly",
                       {{"queue", job.q->cfg.name}, {"entry", job.name}, {"error", e.what()}});
        }
        if (!job.handed_off) finish_item(job.item);
    }
}

// The entry's outcome is recorded (or it was left for a later attempt): its name may be taken
// again, and a twin that arrived meanwhile becomes pending.
void daemon_impl::finish_item(const work_item& item) {
    if (work_.finish(item)) notify_work(1);
    maybe_refill();  // a name listed while this one was in flight asks for another listing
    if (stopping_ && work_.in_flight() == 0) grace_timer_.cancel();
    maybe_finish_once();
}

// A created batch is recorded by a task of its own, so that the worker's request slot goes to
// the next entry at once instead of waiting for the disk (a sync shared with other entries).
// At most 16 times http.concurrency such tasks run, about 4 KiB each: a sync can take a few
// hundred ms (one that writes a large freshly written backlog, or a busy shared disk), and
// requests go on meanwhile (tests/bench at concurrency 64: 8 times held throughput back by a
// fifth to a quarter; 32 times cost 2-3 MiB more at the default concurrency, and the peak RSS
// then grew with the backlog beyond the 2 MiB the benchmark allows).
// Beyond that the worker records itself, which holds the pipeline back when the disk cannot keep
// up. The entry stays in flight (not taken again, counted by a stop) until its record is
// durable. Both job and r are moved from when the recording is handed off.
asio::awaitable<void> daemon_impl::record_later(entry_job& job, create_result& r, bool recovered) {
    if (recording_ >= 16 * cfg_.http.concurrency) {
        co_await record_success(job, r, recovered);
        co_return;
    }
    job.handed_off = true;
    ++recording_;
    asio::co_spawn(ioc_, record_and_finish(std::move(job), std::move(r), recovered),
                   [this](std::exception_ptr e) {
                       --recording_;
                       if (e) {
                           log_.error("recording a created batch failed unexpectedly",
                                      {{"error", describe(e)}});
                       }
                   });
}

asio::awaitable<void> daemon_impl::record_and_finish(entry_job job, create_result r,
                                                     bool recovered) {
    try {
        co_await record_success(job, r, recovered);
    } catch (const std::exception& e) {
        // Left in processing/: resumed (with a Catalog check) at the next start.
        log_.error("cannot record a created batch",
                   {{"queue", job.q->cfg.name}, {"entry", job.name}, {"error", e.what()}});
    }
    finish_item(job.item);
}

asio::awaitable<bool> daemon_impl::pause(std::chrono::milliseconds d) {
    if (stopping_) co_return false;
    asio::steady_timer t(ioc_);
    t.expires_after(d);
    sleepers_.insert(&t);
    co_await t.async_wait(nothrow);
    sleepers_.erase(&t);
    co_return !stopping_;
}

// Returns once `dir` has been fsynced after the call began; throws spool_error when that fsync
// failed. Calls that overlap share one fsync (group commit).
asio::awaitable<void> daemon_impl::sync_dir(const std::string& dir) {
    const std::string key = "dir:" + dir;
    sync_op op = [dir](const std::vector<std::string>&) { fsync_directory(dir); };
    sync_item item;
    co_await group_sync(key, item, std::move(op));
    if (!item.error.empty()) throw spool_error(item.error);
}

// Returns once `file` (a path in the spool) is on the disk, by a sync that began after the
// call; throws spool_error when that sync failed.
asio::awaitable<void> daemon_impl::sync_spool(const spool& sp, const std::string& file) {
    sync_item item;
    item.file = file;
    co_await spool_group(sp, item);
    if (!item.error.empty()) throw spool_error(item.error);
}

// Joins the next group sync of the spool's file system: an fsync of each file when only a few
// wait, else one syncfs, which writes everything on that file system not yet on the disk with
// a single flush. (syncfs alone would make the first entry after start wait for whatever else
// is unwritten there, such as a backlog that was just created.)
asio::awaitable<void> daemon_impl::spool_group(const spool& sp, sync_item& item) {
    const std::string key = "fs:" + sp.root();
    const spool* p = &sp;
    sync_op op = [p](const std::vector<std::string>& files) {
        if (files.size() > few_files_to_sync) {
            p->sync_file_system();
            return;
        }
        for (const auto& f : files) sync_file(f);
    };
    co_await group_sync(key, item, std::move(op));
}

// Returns when a sync that started after the call has ended (item.synced, item.error tell how
// it went). Callers that arrive while max_syncs_per_key syncs are under way share the next one
// (group commit); a sync can start while another is still waiting for the disk, so that the
// work before one group's sync overlaps the previous group's wait.
asio::awaitable<void> daemon_impl::group_sync(const std::string& key, sync_item& item, sync_op op) {
    auto& slot = syncs_[key];
    if (!slot) slot = std::make_unique<sync_state>(ioc_);
    sync_state& st = *slot;
    st.pending.push_back(&item);
    const std::shared_ptr<asio::steady_timer> done = st.next_done;
    if (st.running < max_syncs_per_key) start_sync(key, st, op);
    while (!item.finished) co_await done->async_wait(nothrow);
}

void daemon_impl::start_sync(const std::string& key, sync_state& st, const sync_op& op) {
    ++st.running;
    ++syncs_running_;
    asio::co_spawn(ioc_, run_syncs(key, op), asio::detached);
}

asio::awaitable<void> daemon_impl::run_syncs(std::string key, sync_op op) {
    sync_state& st = *syncs_.at(key);
    // Everything that joined before this sync starts; it begins after each of their changes.
    std::vector<sync_item*> items = std::move(st.pending);
    st.pending.clear();
    const std::shared_ptr<asio::steady_timer> done = std::move(st.next_done);
    st.next_done = st.fresh_signal();
    bool synced = false;
    const auto group = [&op, &items, &synced] {
        std::vector<sync_item*> in;
        std::vector<std::string> files;
        for (auto* it : items) {
            try {
                if (it->before && !it->before()) continue;
            } catch (const std::exception& e) {
                it->error = e.what();
                continue;
            }
            in.push_back(it);
            if (!it->file.empty()) files.push_back(it->file);
        }
        if (in.empty()) return true;
        try {
            op(files);
            synced = true;
        } catch (const std::exception& e) {
            for (auto* it : in) it->error = e.what();
            return true;
        }
        for (auto* it : in) {
            it->synced = true;
            try {
                if (it->after) it->after();
            } catch (const std::exception& e) {
                it->error = e.what();
            }
        }
        return true;
    };
    try {
        co_await blocking(group);
    } catch (const std::exception& e) {  // not expected: each step catches its own
        for (auto* it : items) it->error = e.what();
    }
    if (synced) ++(key.starts_with("fs:") ? fs_syncs_ : dir_fsyncs_);
    for (auto* it : items) it->finished = true;
    --st.running;
    --syncs_running_;
    if (!st.pending.empty()) start_sync(key, st, op);
    done->cancel();
}

// Waits for one of the http.concurrency request slots; false when stopping.
asio::awaitable<bool> daemon_impl::acquire_slot() {
    while (!stopping_) {
        if (slots_in_use_ < cfg_.http.concurrency) {
            ++slots_in_use_;
            co_return true;
        }
        co_await slot_free_.async_wait(nothrow);
    }
    co_return false;
}

bool daemon_impl::release_slot() {
    --slots_in_use_;
    return slot_free_.cancel_one() > 0;
}

// Waits until the rate limit and any shared 429 pause let one API request leave.
asio::awaitable<bool> daemon_impl::pass_gate() {
    while (!stopping_) {
        const auto now = std::chrono::steady_clock::now();
        const auto at = gate_.ready_at(now);
        if (at <= now) {
            gate_.take(now);
            co_return true;
        }
        if (!co_await pause(std::chrono::duration_cast<std::chrono::milliseconds>(at - now) +
                            std::chrono::milliseconds(1))) {
            co_return false;
        }
    }
    co_return false;
}

// The API asked us to slow down: everybody waits, not only the request that was told.
void daemon_impl::slow_down(const std::string& why, std::optional<std::chrono::milliseconds> hint) {
    const auto now = std::chrono::steady_clock::now();
    const auto before = gate_.paused_until();
    const auto d = std::min(
        hint.value_or(std::max(cfg_.retry.initial_backoff, std::chrono::milliseconds(1000))),
        std::chrono::milliseconds(10min));
    gate_.pause(now, d);
    if (gate_.paused_until() > before && before <= now) {
        log_.warn("the API asked to slow down; pausing all requests",
                  {{"cause", why}, {"pause_ms", static_cast<std::int64_t>(d.count())}});
    }
}

std::chrono::milliseconds daemon_impl::retry_delay(int attempt,
                                                   std::optional<std::chrono::milliseconds> hint) {
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    auto d = backoff_delay(attempt, cfg_.retry.initial_backoff, cfg_.retry.max_backoff, unit(rng_));
    if (hint) d = std::max(d, std::min(*hint, std::chrono::milliseconds(10min)));
    return d;
}

namespace {

// Everything between an entry's name and its first request, done on the file-I/O pool in one
// trip (each trip to the pool and back costs two thread hand-offs): the in-place-writer check,
// the claim, the read, the parse and the durable externalId.
struct taken_entry {
    enum class kind {
        writing,       // written in place and still open: look again shortly
        gone,          // taken by another process, or removed
        busy,          // processing/<name> belongs to another process
        claim_error,   // cannot claim (error): stays in incoming/
        read_error,    // cannot read (error): stays in processing/
        unreadable,    // not an entry (reason): goes to failed/
        already_done,  // resumed, and done/ holds its record: leftover removed
        recorded,      // the file already holds its own complete record: filed into done/
        ready,         // send it (entry has its externalId)
    } k = kind::gone;
    std::string error;
    batch_entry entry;
    bool may_exist = false;   // an earlier run may have sent it: ask Catalog first
    bool stamped = false;     // the file carries its externalId as an extended attribute
    bool fresh_id = false;    // a random externalId was made now (the entry had none)
    bool sync_first = false;  // the stamp must be on the disk before the first send
    bool derivable = false;   // the externalId can be derived again from the file
    std::string recorded;     // kind::recorded: where the record went in done/
    bool torn = false;        // stamped, but a crash tore its content while its record was
                              // written: a batch exists, to be found through Catalog only
    std::string unparsed;     // torn only suspected (no stamp): why it is not an entry
    std::string warning;      // a problem worth a log line that did not stop the entry
};

// How a queue's entries get their externalIds (from queue_state, copied for the pool thread).
struct id_policy {
    std::optional<file_identity> incoming;     // derive ids from file identities
    std::optional<std::int64_t> doubt_before;  // entries born before this: Catalog first
};

taken_entry take_entry(const spool& sp, const std::string& name, bool resumed,
                       const id_policy& ids) {
    taken_entry t;
    using kind = taken_entry::kind;
    spool::taken took;
    spool::read_result& rr = took.read;
    if (!resumed) {
        try {
            took = sp.take(name, max_entry_bytes);
        } catch (const spool_error& e) {
            t.k = kind::claim_error;
            t.error = e.what();
            return t;
        }
        switch (took.status) {
            case spool::take_status::gone:
                return t;
            case spool::take_status::busy:
                t.k = kind::busy;
                return t;
            case spool::take_status::writing:
                t.k = kind::writing;
                return t;
            case spool::take_status::claimed:
                break;
        }
        if (!took.read_error.empty()) {
            t.k = kind::read_error;
            t.error = took.read_error;
            return t;
        }
    } else {
        try {
            rr = sp.read_claimed(name, max_entry_bytes);
        } catch (const spool_error& e) {
            t.k = kind::read_error;
            t.error = e.what();
            return t;
        }
    }
    if (!rr.ok) {
        t.k = kind::unreadable;
        t.error = rr.reason;
        return t;
    }
    // A previous run may have sent it before crashing (resumed from processing/), or before a
    // power loss that took its stamp and its claim with it (born before the doubt moment).
    const bool in_doubt =
        ids.doubt_before && (!rr.identity || rr.identity->born_ns < *ids.doubt_before);
    // The id derived from the file (where the file system records birth times).
    std::optional<std::string> derived;
    if (ids.incoming && rr.identity) {
        derived = derive_external_id(*ids.incoming, *rr.identity);
    }
    // After a lost machine the stamp may be gone too: the id it would hold is derived again.
    const std::optional<std::string>& known_id =
        rr.external_id ? rr.external_id : (in_doubt ? derived : rr.external_id);
    if (known_id && spool::is_record_of(rr.content, *known_id)) {
        // Its record was written in place and a crash (or a power loss that undid the move)
        // came before it reached done/: only the move is left.
        t.entry.external_id = known_id;
        try {
            t.recorded = sp.file_record(name, *known_id);
            t.k = kind::recorded;
        } catch (const spool_error& e) {
            t.k = kind::read_error;
            t.error = e.what();
        }
        return t;
    }
    auto parsed = parse_entry(rr.content);
    if (!parsed.value && rr.external_id) {
        // Only a read entry is stamped, and only a created batch's record replaces the content:
        // a stamped file that is neither was torn by a crash while its record was written.
        t.entry.external_id = rr.external_id;
        t.may_exist = true;
        t.stamped = true;
        t.torn = true;
        t.k = kind::ready;
        return t;
    }
    if (!parsed.value && known_id) {
        // Not an entry, no stamp, and in the spool when the machine went down: perhaps a
        // record torn by the power loss, with its stamp lost. Catalog is asked under the id
        // it would have had; if it lists no batch, the entry fails for what it is.
        t.entry.external_id = known_id;
        t.may_exist = true;
        t.torn = true;
        t.unparsed = parsed.error;
        t.k = kind::ready;
        return t;
    }
    if (!parsed.value) {
        t.k = kind::unreadable;
        t.error = parsed.error;
        return t;
    }
    t.entry = std::move(*parsed.value);
    t.may_exist = resumed || in_doubt;
    if (!t.entry.external_id && rr.external_id) {
        // Stamped by an earlier claim, which may have sent it (a power loss can even have put
        // the file back in incoming/): the same id again, and Catalog asked before any send.
        t.entry.external_id = rr.external_id;
        t.may_exist = true;
    }
    t.k = kind::ready;
    if (rr.external_id) {
        t.stamped = *rr.external_id == *t.entry.external_id;
        // A stamp an earlier run left may still be only in the page cache: unless the id can
        // be derived again, it reaches the disk before this run sends under it.
        t.derivable = derived && *derived == *t.entry.external_id;
        t.sync_first = t.stamped && !t.derivable;
    } else {
        // A resend after a crash must reuse the externalId. An entry's own id is in its
        // content; otherwise it is derived from the file's identity, which every start finds
        // again, or, where the file system records no birth times, made at random. The id is
        // also stamped on the file itself, so that a crash while the record replaces the
        // content is recognised. A derived id's stamp needs no sync once this run's marker is
        // on the disk (see process): after a lost machine the id is derived again, and a torn
        // file without its stamp is looked up under it. Any other stamp is made durable before
        // the first send, by the caller's file-system sync, which serves many entries at once
        // (a torn file's content could not tell its id). Where the file system takes no
        // extended attributes (or the stamp failed), a random id is written into the entry
        // instead.
        const bool own = t.entry.external_id.has_value();
        if (!own) {
            if (derived) {
                t.entry.external_id = std::move(derived);
                t.derivable = true;
            } else {
                t.fresh_id = true;
                t.entry.external_id = new_external_id();
            }
        }
        try {
            t.stamped = sp.stamp_external_id(took, name, *t.entry.external_id);
        } catch (const spool_error& e) {
            if (t.fresh_id) t.warning = e.what();
        }
        t.sync_first = t.stamped && !t.derivable;
        if (t.fresh_id) return t;
    }
    if (t.may_exist) {
        try {
            if (sp.done_record_matches(name, *t.entry.external_id)) {
                sp.remove_claimed(name);
                t.k = kind::already_done;
            }
        } catch (const spool_error& e) {
            t.warning = std::string("cannot check done/ for a resumed entry: ") + e.what();
        }
    }
    return t;
}

}  // namespace

asio::awaitable<void> daemon_impl::process(entry_job& job) {
    queue_state& q = *job.q;
    const spool* sp = &q.sp;
    const std::string name = job.name;
    const bool resumed = job.resumed;
    job.started = std::chrono::steady_clock::now();

    // Taken (claimed, read, stamped) in one trip to the pool, shared with every entry taken
    // meanwhile. Takes group on their own, never queued behind a sync of records; an entry
    // whose externalId must be durable first joins the file system's next sync below.
    using kind = taken_entry::kind;
    taken_entry t;
    sync_item taking;
    taking.file = sp->path("processing", name);
    const id_policy ids{q.incoming_id, q.run.doubt_before_ns};
    taking.before = [sp, name, resumed, &ids, &t] {
        t = take_entry(*sp, name, resumed, ids);
        return false;  // nothing to sync in this trip
    };
    if (work_.in_flight() == 1 && recording_ == 0 && syncs_running_ == 0) {
        // Alone (an idle daemon woken by one new entry): taken right here, a few system calls
        // on a file just written, rather than a trip to the pool and back, which costs two
        // thread wake-ups (most of the pick-up latency tests/bench measures on a small VM).
        // The loop waits for these calls; with nothing else under way, nothing waits on it
        // but timers and /metrics (a hung network file system would hold them, as it would
        // hold every other step of the daemon).
        try {
            taking.before();
        } catch (const std::exception& e) {
            taking.error = e.what();
        }
    } else {
        sync_op no_sync = [](const std::vector<std::string>&) {};
        co_await group_sync(q.take_key, taking, std::move(no_sync));
    }
    if (t.k == kind::gone && !taking.error.empty()) {
        log_.error("cannot take entry",
                   {{"queue", q.cfg.name}, {"entry", name}, {"error", taking.error}});
        co_return;
    }
    if (!t.warning.empty()) {
        log_.warn(t.warning, {{"queue", q.cfg.name}, {"entry", name}});
    }
    switch (t.k) {
        case kind::writing:
            log_.debug("entry is still being written; checking again shortly",
                       {{"queue", q.cfg.name}, {"entry", name}});
            recheck_later(q, name);
            co_return;
        case kind::gone:
            co_return;
        case kind::busy:
            // processing/<name> belongs to another process: the entry waits in incoming/ for a
            // later scan, once that one is finished.
            log_.warn("an entry of the same name is being processed elsewhere; left in incoming/",
                      {{"queue", q.cfg.name}, {"entry", name}});
            co_return;
        case kind::claim_error:
            log_.error("cannot claim entry; it stays in incoming/",
                       {{"queue", q.cfg.name}, {"entry", name}, {"error", t.error}});
            co_return;
        case kind::read_error:
            log_.error("cannot read claimed entry; it stays in processing/",
                       {{"queue", q.cfg.name}, {"entry", name}, {"error", t.error}});
            co_return;
        case kind::unreadable:
            co_await record_failure(job, t.error, std::nullopt, {}, {});
            co_return;
        case kind::already_done:
            log_.info("entry was already recorded in done/; removed its leftover",
                      {{"queue", q.cfg.name}, {"entry", name}});
            co_return;
        case kind::recorded:
            log_.info("entry already held its record; moved it to done/",
                      {{"queue", q.cfg.name}, {"entry", name}, {"path", t.recorded}});
            co_return;
        case kind::ready:
            break;
    }
    job.entry = std::move(t.entry);
    job.may_exist = t.may_exist;
    job.in_place = t.stamped;
    job.torn = t.torn;
    job.unparsed = std::move(t.unparsed);
    const std::string xid = *job.entry.external_id;
    // A derived externalId needs no sync before the first send, as it is derived again, once
    // this run's marker is on the disk (the first entries wait for it here, while it is being
    // written). Without a marker it is made durable like a random one: its stamp synced, or,
    // unstamped, the entry rewritten with it. A random externalId that could not be stamped (a
    // file system without user extended attributes) is written into the entry, as JSON.
    bool sync_stamp = t.sync_first;
    bool rewrite_needed = t.fresh_id && !t.stamped;
    if (t.derivable) {
        while (q.marking) co_await q.marking_done->async_wait(nothrow);
        if (!q.run.marked) {
            sync_stamp = t.stamped;
            rewrite_needed = !t.stamped;
        }
    }
    const std::string content = rewrite_needed ? serialize_entry(job.entry) : std::string();
    const auto rewrite = [sp, name, content] {
        sp->rewrite_claimed(name, content, spool::sync_mode::by_caller);
        return true;
    };
    bool synced = !sync_stamp && !rewrite_needed;
    const std::string& claimed_path = taking.file;
    while (!synced) {
        try {
            // The externalId is on the disk before the first request.
            if (rewrite_needed) {
                co_await blocking(rewrite);
                co_await sync_dir(sp->path("processing", ""));
            } else {
                co_await sync_spool(*sp, claimed_path);
            }
            synced = true;
            break;
        } catch (const spool_error& e) {
            log_.error("cannot persist the entry's externalId; retrying",
                       {{"queue", q.cfg.name}, {"entry", name}, {"error", e.what()}});
        }
        if (!co_await pause(5s)) co_return;
    }
    co_await deliver(job);
}

// Holds a request slot until release() or the end of its scope (a return or an exception).
struct daemon_impl::slot_guard {
    daemon_impl* d;
    bool held = true;
    bool release() {
        const bool woke = held && d->release_slot();
        held = false;
        return woke;
    }
    ~slot_guard() { release(); }
};

// One API request: a request slot, the rate gate, the exchange, its count in /metrics. nullopt
// when the daemon stops first.
asio::awaitable<std::optional<http_outcome>> daemon_impl::exchange(
    const char* kind, const endpoint& ep, http::request<http::string_body>& req) {
    if (!co_await acquire_slot()) co_return std::nullopt;
    slot_guard slot{this};
    if (!co_await pass_gate()) co_return std::nullopt;
    auto out = co_await client_.send(ep, req);
    if (slot.release()) {
        // The request woken for the freed slot leaves before this answer is worked on further:
        // with a slow server, that turn-around is what each slot's cycle is made of.
        co_await asio::post(ioc_, asio::use_awaitable);
    }
    metrics_.request(kind, out.failure == transport_failure::none ? out.response.result_int() : 0,
                     std::chrono::duration<double>(out.elapsed).count());
    co_return out;
}

asio::awaitable<void> daemon_impl::deliver(entry_job& job) {
    queue_state& q = *job.q;
    const std::string body =
        job.torn ? std::string() : create_batch_body(job.entry, q.cfg.default_input_format);
    const std::string& xid = *job.entry.external_id;
    // When the outcome of an earlier send is unknown (crash, reset after writing, unreadable
    // 201), Catalog is asked for a batch with our externalId before anything is resent.
    bool must_look_up = job.may_exist;
    bool refused_once = false;  // a 401 was answered by a fresh token already
    int lookups = 0;
    std::string last_reason = "no attempt made";
    std::optional<unsigned> last_status;
    std::string last_body, last_request_id;

    while (true) {
        if (stopping_) co_return;  // the entry stays in processing/ and resumes at next start
        auto token = co_await tokens_.get();
        if (!token) co_return;

        if (must_look_up) {
            const auto ep = catalog_ep_;  // kept for the whole exchange, whatever a reload does
            auto req = catalog_lookup_request(*ep, cfg_.platform, q.cfg.sandbox, *token, xid);
            auto sent = co_await exchange("lookup", *ep, req);
            if (!sent) co_return;
            ++lookups;
            const http_outcome& out = *sent;
            lookup_result lr;
            if (out.failure != transport_failure::none) {
                lr.reason =
                    "catalog look-up: " + std::string(to_string(out.failure)) + ": " + out.error;
            } else {
                lr = parse_catalog_lookup(out.response.result_int(), out.response.body(), xid);
            }
            if (lr.outcome == lookup_result::kind::found) {
                co_await record_later(job, lr.batch, true);
                co_return;
            }
            if (lr.outcome == lookup_result::kind::not_found && job.torn) {
                // Its batch was created (only then is the content replaced), but what to send
                // again is gone: Catalog is asked again until it lists the batch.
                if (lookups >= cfg_.retry.max_attempts) {
                    const std::string why =
                        job.unparsed.empty()
                            ? "a crash tore this entry while its record was written, after its "
                              "batch was created, and Catalog lists no batch with externalId " +
                                  xid + " after " + std::to_string(lookups) + " look-ups"
                            : job.unparsed +
                                  " (it was in the spool when the machine went down, and "
                                  "Catalog lists no batch with the externalId a record torn "
                                  "then would carry, " +
                                  xid + ", after " + std::to_string(lookups) + " look-ups)";
                    co_await record_failure(job, why, std::nullopt, {}, {});
                    co_return;
                }
                log_.warn("batch of a torn entry not in Catalog yet; will ask again",
                          {{"queue", q.cfg.name}, {"entry", job.name}, {"external_id", xid}});
                if (!co_await pause(retry_delay(lookups, std::nullopt))) co_return;
                continue;
            }
            if (lr.outcome == lookup_result::kind::not_found) {
                must_look_up = false;
                if (job.attempts >= cfg_.retry.max_attempts) {
                    co_await record_failure(job, last_reason, last_status, last_body,
                                            last_request_id);
                    co_return;
                }
            } else {
                if (lr.outcome == lookup_result::kind::unauthorized) tokens_.invalidate(*token);
                log_.warn("batch look-up failed; will retry",
                          {{"queue", q.cfg.name}, {"entry", job.name}, {"reason", lr.reason}});
                if (lookups >= cfg_.retry.max_attempts) {
                    const std::string why = "outcome unknown after " + last_reason + "; " +
                                            lr.reason + " (a batch with externalId " + xid +
                                            " may exist)";
                    co_await record_failure(job, why, last_status, last_body, last_request_id);
                    co_return;
                }
                if (!co_await pause(retry_delay(lookups, std::nullopt))) co_return;
                continue;
            }
        }

        const auto ep = import_ep_;
        auto req = create_batch_request(*ep, cfg_.platform, q.cfg.sandbox, *token, body);
        auto sent = co_await exchange("create", *ep, req);
        if (!sent) co_return;
        ++job.attempts;
        http_outcome& out = *sent;
        std::optional<std::chrono::milliseconds> hint;
        if (out.failure != transport_failure::none) {
            last_reason = std::string(to_string(out.failure)) + " error: " + out.error;
            last_status.reset();
            last_body.clear();
            last_request_id.clear();
            if (out.request_sent) must_look_up = true;
        } else {
            const auto& res = out.response;
            last_status = res.result_int();
            last_body = body_excerpt(res.body());
            last_request_id = std::string(res["x-request-id"]);
            auto r = classify_create_response(res.result_int(), res.body(),
                                              res[http::field::retry_after],
                                              std::chrono::system_clock::now());
            last_reason = r.reason;
            hint = r.retry_after;
            if (*last_status == 429 || (*last_status == 503 && hint)) slow_down(r.reason, hint);
            switch (r.outcome) {
                case create_result::kind::created:
                    co_await record_later(job, r, false);
                    co_return;
                case create_result::kind::permanent:
                    co_await record_failure(job, r.reason, last_status, last_body, last_request_id);
                    co_return;
                case create_result::kind::unauthorized:
                    if (refused_once) {
                        const std::string why =
                            "HTTP 401 twice in a row: the API refuses fresh tokens (check "
                            "platform.api_key, platform.org_id and the product profile)";
                        co_await record_failure(job, why, last_status, last_body, last_request_id);
                        co_return;
                    }
                    refused_once = true;
                    tokens_.invalidate(*token);
                    continue;  // resend at once with a fresh token
                case create_result::kind::ambiguous:
                    must_look_up = true;
                    break;
                case create_result::kind::transient:
                    break;
            }
        }
        refused_once = false;
        log_.warn("batch creation failed; will retry", {{"queue", q.cfg.name},
                                                        {"entry", job.name},
                                                        {"attempt", job.attempts},
                                                        {"reason", last_reason}});
        const auto age = std::chrono::steady_clock::now() - job.started;
        if (cfg_.retry.max_age.count() > 0 && age >= cfg_.retry.max_age && !must_look_up) {
            const std::string why =
                "gave up after " +
                std::to_string(std::chrono::duration_cast<std::chrono::seconds>(age).count()) +
                " s (retry.max_age): " + last_reason;
            co_await record_failure(job, why, last_status, last_body, last_request_id);
            co_return;
        }
        if (job.attempts >= cfg_.retry.max_attempts && !must_look_up) {
            const std::string why =
                "gave up after " + std::to_string(job.attempts) + " attempts: " + last_reason;
            co_await record_failure(job, why, last_status, last_body, last_request_id);
            co_return;
        }
        if (job.attempts >= cfg_.retry.max_attempts) {
            last_reason =
                "gave up after " + std::to_string(job.attempts) + " attempts: " + last_reason;
        }
        auto delay = retry_delay(job.attempts - 1, hint);
        // Catalog may lag behind a batch created an instant ago: give it at least one initial
        // back-off before asking, rather than a full-jitter pause that may be zero.
        if (must_look_up) delay = std::max(delay, cfg_.retry.initial_backoff);
        metrics_.retry(q.cfg.name);
        if (!co_await pause(delay)) co_return;
    }
}

asio::awaitable<void> daemon_impl::record_success(entry_job& job, create_result& r,
                                                  bool recovered) {
    queue_state& q = *job.q;
    // A torn entry's dataset id survives only in Catalog's answer.
    if (job.entry.dataset_id.empty() && !r.dataset_id.empty()) job.entry.dataset_id = r.dataset_id;
    // Many records may wait for a sync at once (see record_later): each holds one copy of its
    // text, and the 201 body is dropped once it is in there.
    const std::string text = [&] {
        done_record_fields fields;
        fields.queue = q.cfg.name;
        fields.entry = job.name;
        fields.dataset_id = job.entry.dataset_id;
        fields.external_id = *job.entry.external_id;
        const std::string created_at = utc_timestamp();  // fields only view their strings
        fields.created_at = created_at;
        fields.attempts = job.attempts;
        fields.recovered = recovered;
        return done_record_text(fields, r);
    }();
    std::string().swap(r.response);
    const spool* sp = &q.sp;
    const std::string& name = job.name;
    const std::string& xid = *job.entry.external_id;
    // The batch exists: its record must reach the disk, however long the disk takes to allow it.
    //
    // A stamped entry gets its record in its own file: the content is replaced in place, the
    // file system synced (with every other entry's changes since the last sync), and the file
    // moved into done/. No file is created or removed, and a crash at any instant leaves either
    // the entry, a complete record (filed at the next start) or a torn mix with the stamp
    // (recovered through Catalog). Otherwise the record is a new file, written and synced
    // before the entry is removed.
    const auto in_place = [sp, &name, &text] { return sp->write_record_in_place(name, text); };
    const auto file = [sp, &name, &xid] { return sp->file_record(name, xid); };
    const auto record = [sp, &name, &xid, &text] {
        return sp->record_done(name, xid, text, spool::sync_mode::by_caller);
    };
    const auto remove = [sp, &name] {
        sp->remove_claimed(name);
        return true;
    };
    const std::string claimed_path = sp->path("processing", name);
    bool written = false, synced = false;  // a retry never writes a second record
    bool separate = !job.in_place;
    while (true) {
        try {
            if (!separate && !synced) {
                // Write, sync and move in the group's one trip to the pool.
                bool not_writable = false;
                sync_item item;
                item.file = claimed_path;
                if (!written) {
                    item.before = [&written, &not_writable, &in_place] {
                        written = in_place();
                        not_writable = !written;
                        return written;
                    };
                }
                item.after = [&file] { file(); };
                co_await spool_group(*sp, item);
                if (not_writable) {
                    separate = true;
                } else {
                    synced = item.synced;
                    if (!item.error.empty()) throw spool_error(item.error);
                    break;
                }
            }
            if (!written) {
                co_await blocking(record);
                written = true;
            }
            if (!synced) {
                const std::string done_dir = sp->path("done", "");
                co_await sync_dir(done_dir);
                synced = true;
            }
            if (separate) {
                co_await blocking(remove);
            } else {
                co_await blocking(file);
            }
            break;
        } catch (const spool_error& e) {
            log_.error("cannot record a created batch; retrying", {{"queue", q.cfg.name},
                                                                   {"entry", name},
                                                                   {"batch_id", r.batch_id},
                                                                   {"error", e.what()}});
        }
        if (!co_await pause(5s)) co_return;  // left in processing/: the next start finds it
    }
    ++done_count_;
    metrics_.entry(q.cfg.name, metrics_counters::outcome::done);
    last_success_ = std::chrono::system_clock::now();
    last_progress_ = std::chrono::steady_clock::now();
    last_batch_ = r.batch_id;
    const auto latency = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - job.started);
    log_.info(recovered ? "batch recovered" : "batch created",
              {{"queue", q.cfg.name},
               {"dataset_id", job.entry.dataset_id},
               {"batch_id", r.batch_id},
               {"stage_path", r.stage_path},
               {"attempts", job.attempts},
               {"latency_ms", static_cast<std::int64_t>(latency.count())},
               {"entry", name},
               {"external_id", xid}});
}

asio::awaitable<void> daemon_impl::record_failure(entry_job& job, const std::string& reason,
                                                  std::optional<unsigned> http_status,
                                                  std::string_view response_body,
                                                  std::string_view request_id) {
    queue_state& q = *job.q;
    boost::json::object rec;
    rec["queue"] = q.cfg.name;
    rec["entry"] = valid_utf8(job.name);
    if (job.entry.dataset_id.empty()) {
        rec["datasetId"] = nullptr;
    } else {
        rec["datasetId"] = job.entry.dataset_id;
    }
    if (job.entry.external_id) rec["externalId"] = *job.entry.external_id;
    rec["reason"] = valid_utf8(reason);
    if (http_status) {
        rec["httpStatus"] = *http_status;
    } else {
        rec["httpStatus"] = nullptr;
    }
    if (response_body.empty()) {
        rec["responseBody"] = nullptr;
    } else {
        rec["responseBody"] = valid_utf8(response_body);
    }
    if (request_id.empty()) {
        rec["requestId"] = nullptr;
    } else {
        rec["requestId"] = valid_utf8(request_id);
    }
    rec["attempts"] = job.attempts;
    rec["failedAt"] = utc_timestamp();
    const std::string text = boost::json::serialize(rec) + "\n";
    const spool* sp = &q.sp;
    const std::string name = job.name;
    const std::string unique = job.entry.external_id.value_or(new_external_id());
    const auto op = [sp, name, unique, text] { return sp->fail(name, unique, text); };
    while (true) {
        try {
            co_await blocking(op);
            break;
        } catch (const spool_error& e) {
            log_.error("cannot record a failed entry; retrying",
                       {{"queue", q.cfg.name}, {"entry", name}, {"error", e.what()}});
        }
        if (!co_await pause(5s)) co_return;
    }
    ++failed_count_;
    metrics_.entry(q.cfg.name, metrics_counters::outcome::failed);
    log_.warn("entry failed", {{"queue", q.cfg.name},
                               {"entry", name},
                               {"dataset_id", job.entry.dataset_id},
                               {"reason", reason},
                               {"attempts", job.attempts}});
}

// ---------------------------------------------------------------------------------------------

batch_daemon::batch_daemon(checked_config loaded, logger& log, run_options opts)
    : impl_(std::make_unique<daemon_impl>(std::move(loaded), log, std::move(opts))) {}

batch_daemon::~batch_daemon() = default;

int batch_daemon::run() { return impl_->run(); }

}  // namespace aep
