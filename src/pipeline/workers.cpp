#include "pipeline/workers.hpp"

#include <boost/asio/co_spawn.hpp>

namespace aep {

namespace asio = boost::asio;

workers::workers(pipeline_context& ctx, intake& in, group_sync& syncs, api_channel& api,
                 token_provider& tokens, std::function<void()> on_finish)
    : ctx_(ctx),
      intake_(in),
      on_finish_(std::move(on_finish)),
      recorder_(ctx, syncs, [this](const work_item& item) { finish(item); }),
      take_(ctx, syncs,
            [this, &syncs] {
                return intake_.work().in_flight() == 1 && recorder_.recording() == 0 &&
                       syncs.running() == 0;
            }),
      create_(ctx, api, tokens),
      full_(ctx, api, tokens, syncs),
      tracker_(ctx, api, tokens, recorder_) {}

void workers::spawn_to_target() {
    for (int i = running_; i < target(); ++i) spawn();
}

// A worker ends only by a bug; keep the daemon serving with a fresh one.
void workers::spawn() {
    ++running_;
    asio::co_spawn(ctx_.ioc, work(), [this](std::exception_ptr e) {
        if (!e) return;
        ctx_.log.error("worker failed unexpectedly; restarting it", {{"error", describe(e)}});
        if (!ctx_.run.stopping()) spawn();
    });
}

asio::awaitable<void> workers::work() {
    // Counted out as the frame ends (co_return or exception), before any other worker runs.
    struct counted {
        int& n;
        ~counted() { --n; }
    } count{running_};
    while (!ctx_.run.stopping()) {
        if (running_ > target()) co_return;  // a reload lowered the concurrency
        auto item = intake_.take();
        if (!item) {
            if (intake_.work().in_flight() == 0) recorder_.note_progress();
            on_finish_();
            if (ctx_.run.stopping()) break;
            co_await intake_.wait_for_work();
            continue;
        }
        co_await run_entry(*item);
    }
}

// One entry through the stages. Its name is finished here unless the recorder took it apart.
asio::awaitable<void> workers::run_entry(const work_item& item) {
    entry_job job;
    job.q = &intake_.queue(item.queue);
    job.name = item.name;
    job.resumed = item.resumed;
    job.item = item;
    auto handled = recorder::handling::here;
    try {
        const auto taken = co_await take_.take(job);
        switch (taken.k) {
            case take_stage::outcome::kind::finished:
                break;
            case take_stage::outcome::kind::recheck:
                intake_.recheck_later(*job.q, job.name);
                break;
            case take_stage::outcome::kind::fail: {
                const failure why{taken.reason, std::nullopt, {}, {}};
                if (taken.reason.rfind("files", 0) == 0) {
                    // Its files are wrong: no batch was made (stage validate in the record).
                    job.full.emplace();
                    job.full->stage = entry_stage::validate;
                }
                co_await recorder_.failed(job, why);
                break;
            }
            case take_stage::outcome::kind::create: {
                if (!job.entry.files.empty()) {
                    // Every file is checked before any batch exists.
                    const auto problem = co_await full_.validate(job);
                    if (!problem.empty()) {
                        if (!job.full) job.full.emplace();
                        job.full->stage = entry_stage::validate;
                        const failure why{problem, std::nullopt, {}, {}};
                        co_await recorder_.failed(job, why);
                        break;
                    }
                    if (!job.full->progress.batch_id.empty()) {
                        // An earlier run created its batch: never a second one.
                        create_result known;
                        known.batch_id = job.full->progress.batch_id;
                        known.status = "loading";
                        if (co_await run_full(job, known, true)) handled = recorder::handling::apart;
                        break;
                    }
                }
                auto made = co_await create_.run(job);
                using k = create_stage::outcome::kind;
                if ((made.k == k::created || made.k == k::recovered) && job.full) {
                    if (co_await run_full(job, made.batch, made.k == k::recovered))
                        handled = recorder::handling::apart;
                } else if (made.k == k::created || made.k == k::recovered) {
                    handled = co_await recorder_.created(job, made.batch, made.k == k::recovered);
                } else if (made.k == k::failed) {
                    if (job.full) job.full->stage = entry_stage::create;
                    co_await recorder_.failed(job, made.why);
                }
                break;
            }
        }
    } catch (const std::exception& e) {
        // The entry stays where it is (incoming/ or processing/) and is retried by the next
        // scan or start; nothing is lost.
        ctx_.log.error("entry processing failed unexpectedly",
                       {{"queue", job.q->cfg.name}, {"entry", job.name}, {"error", e.what()}});
    }
    if (handled == recorder::handling::here) finish(item);
}

asio::awaitable<bool> workers::run_full(entry_job& job, const create_result& batch,
                                        bool recovered) {
    auto& f = *job.full;
    f.batch = batch;
    if (f.created_at.empty()) f.created_at = utc_timestamp();
    if (!recovered || job.full->progress.batch_id.empty()) recorder_.created_full(job);
    auto ran = co_await full_.run(job);
    using k = full_stage::outcome::kind;
    if (ran.k == k::failed) {
        co_await recorder_.failed(job, ran.why);
        co_return false;
    }
    if (ran.k != k::completed) co_return false;  // a stop: it stays in processing/
    tracker_.track(std::move(job));
    co_return true;
}

// The entry's outcome is recorded (or it was left for a later attempt): its name may be taken
// again, and a twin that arrived meanwhile becomes pending.
void workers::finish(const work_item& item) {
    intake_.finish(item);
    on_finish_();
}

}  // namespace aep
