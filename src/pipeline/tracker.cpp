#include "pipeline/tracker.hpp"

#include <boost/asio/co_spawn.hpp>

namespace aep {

namespace asio = boost::asio;

void tracker::track(entry_job&& job) {
    ++tracking_;
    asio::co_spawn(ctx_.ioc, follow(std::move(job)), [this](std::exception_ptr e) {
        --tracking_;
        if (e) {
            ctx_.log.error("tracking a batch failed unexpectedly", {{"error", describe(e)}});
        }
    });
}

asio::awaitable<void> tracker::follow(entry_job job) {
    auto& f = *job.full;
    const work_item item = job.item;
    full_entry m(ctx_.cfg.retry, ctx_.cfg.track, f.progress.uploaded, f.progress.completed_ms);
    // Asked at once when resumed by a new run, else track.poll_initial after the COMPLETE.
    auto delay = job.resumed ? std::chrono::milliseconds(0) : ctx_.cfg.track.poll_initial;
    using k = full_entry::step::kind;
    while (true) {
        if (delay.count() > 0 && !co_await ctx_.run.pause(delay)) break;
        if (ctx_.run.stopping()) break;
        auto token = co_await tokens_.get();
        if (!token) break;
        const auto ep = api_.catalog_endpoint();
        const api_caller as{ctx_.cfg.platform, job.q->cfg.sandbox, *token};
        auto req = batch_status_request(*ep, as, f.batch.batch_id);
        auto sent = co_await api_.exchange("status", *ep, req);
        if (!sent) break;
        call_answer a;
        batch_status parsed;
        if (sent->failure != transport_failure::none) {
            a.transport_error = std::string(to_string(sent->failure)) + " error: " + sent->error;
        } else {
            a.status = sent->response.result_int();
            a.retry_after = parse_retry_after(sent->response[http::field::retry_after],
                                              std::chrono::system_clock::now());
            parsed = parse_batch_status(a.status, sent->response.body(), f.batch.batch_id);
            if (a.status != 200) a.body_excerpt = body_excerpt(sent->response.body());
        }
        auto s = m.on_status(a, parsed, unix_ms(), unit_(rng_));
        if (s.drop_token) tokens_.invalidate(*token);
        if (s.slow_down) api_.slow_down("HTTP 429 to a status request", s.slow_down_hint);
        if (s.stalled) {
            ctx_.log.warn("batch stalled", {{"queue", job.q->cfg.name},
                                            {"batch_id", f.batch.batch_id},
                                            {"entry", job.name}});
        }
        if (s.k == k::poll || s.k == k::wait) {
            delay = s.delay;
            continue;
        }
        f.finished_at = utc_timestamp();
        if (s.k == k::failed) {
            f.stage = entry_stage::track;
            co_await records_.failed(job, failure{s.reason, std::nullopt, {}, {}});
        } else {
            f.status = s.status;
            co_await records_.finished(job);
        }
        records_.finish(item);
        co_return;
    }
    // A stop: the entry stays in processing/ with its progress; the next start polls at once.
    records_.finish(item);
}

}  // namespace aep
