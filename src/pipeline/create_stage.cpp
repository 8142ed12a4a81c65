#include "pipeline/create_stage.hpp"

#include <algorithm>
#include <functional>

namespace aep {

namespace asio = boost::asio;

namespace {

lookup_result read_look_up(const http_outcome& out, const std::string& xid) {
    if (out.failure != transport_failure::none) {
        lookup_result lr;
        lr.reason = "catalog look-up: " + std::string(to_string(out.failure)) + ": " + out.error;
        return lr;
    }
    return parse_catalog_lookup(out.response.result_int(), out.response.body(), xid);
}

create_reply read_create(const http_outcome& out) {
    create_reply r;
    if (out.failure != transport_failure::none) {
        r.transport_error = std::string(to_string(out.failure)) + " error: " + out.error;
        r.request_sent = out.request_sent;
        return r;
    }
    const auto& res = out.response;
    r.status = res.result_int();
    r.body_excerpt = body_excerpt(res.body());
    r.request_id = std::string(res["x-request-id"]);
    r.result = classify_create_response(res.result_int(), res.body(), res[http::field::retry_after],
                                        std::chrono::system_clock::now());
    return r;
}

}  // namespace

asio::awaitable<std::optional<http_outcome>> create_stage::send(const create_attempts& m,
                                                                entry_job& job,
                                                                const std::string& token,
                                                                const std::string& body) {
    const bool look = m.next() == create_attempts::request::look_up;
    // Kept for the whole exchange, whatever a reload does.
    const auto ep = look ? api_.catalog_endpoint() : api_.import_endpoint();
    const api_caller as{ctx_.cfg.platform, job.q->cfg.sandbox, token};
    auto req = look ? catalog_lookup_request(*ep, as, *job.entry.external_id)
                    : create_batch_request(*ep, as, body);
    // A create is counted with the entry before it is written, so that whatever happens next
    // (a crash, a kill, a stop) the next run counts it too: one extended attribute set on the
    // open file, in the page cache (no sync).
    std::function<void()> count_attempt;
    if (!look) {
        count_attempt = [&job, &m] {
            job.progress.attempts = m.attempts() + 1;
            job.progress.sent_ms = unix_ms();
            job.progress.last_status.reset();
            if (m.attempts() > 0) job.progress.last_status = m.last_failure().http_status.value_or(0);
            spool::write_progress(job.hold, *job.entry.external_id, encode_progress(job.progress));
        };
    }
    co_return co_await api_.exchange(look ? "lookup" : "create", *ep, req, &count_attempt);
}

// What earlier runs left with the entry: their creates, and when the last of them was sent (its
// outcome unknown), on this run's steady clock.
earlier_runs create_stage::earlier(const entry_job& job) {
    earlier_runs e;
    e.attempts = job.attempts;
    if (const auto st = job.progress.last_status) {
        e.last_error = *st == 0 ? "no answer to a create (before a restart)"
                                : "HTTP " + std::to_string(*st) + " (before a restart)";
    }
    if (job.progress.sent_ms) {
        const auto ago = std::max<std::int64_t>(0, unix_ms() - *job.progress.sent_ms);
        e.last_sent = std::chrono::steady_clock::now() - std::chrono::milliseconds(ago);
    }
    return e;
}

// Twins under the entry's externalId, still loading, are aborted; the kept batch is recorded.
// A twin that cannot be aborted is left for the operator, named in the log.
asio::awaitable<void> create_stage::abort_twins(const entry_job& job, const create_result& kept,
                                                const std::vector<std::string>& twins) {
    for (const auto& id : twins) {
        const std::string sandbox = job.q->cfg.sandbox;
        const auto tried = co_await api_.abort_batch(tokens_, sandbox, id);
        if (tried.stopped) co_return;
        const auto& q = *job.q;
        if (tried.aborted) {
            ctx_.metrics.duplicate_aborted(q.cfg.name);
            ctx_.log.warn("duplicate batch aborted", {{"queue", q.cfg.name},
                                                      {"entry", job.name},
                                                      {"external_id", *job.entry.external_id},
                                                      {"batch_id", kept.batch_id},
                                                      {"aborted_batch_id", id}});
        } else {
            ctx_.log.error("cannot abort a duplicate batch; abort it by hand",
                           {{"queue", q.cfg.name},
                            {"entry", job.name},
                            {"external_id", *job.entry.external_id},
                            {"batch_id", kept.batch_id},
                            {"duplicate_batch_id", id},
                            {"error", tried.why}});
        }
    }
}

void create_stage::note(const entry_job& job, const create_attempts::step& s, int attempts) {
    using n = create_attempts::step::note;
    const auto& q = *job.q;
    switch (s.noted) {
        case n::none:
            return;
        case n::look_up_failed:
            // The last one is told by `entry failed`, or by the batch kept after all.
            if (s.k != create_attempts::step::kind::wait && s.k != create_attempts::step::kind::again)
                return;
            ctx_.log.warn("batch look-up failed; will retry",
                          {{"queue", q.cfg.name},
                           {"entry", job.name},
                           {"dataset_id", job.entry.dataset_id},
                           {"error", s.note_reason},
                           {"retry_in_ms", static_cast<std::int64_t>(s.delay.count())}});
            return;
        case n::torn_not_listed:
            ctx_.log.warn("batch of a torn entry not in Catalog yet; will ask again",
                          {{"queue", q.cfg.name},
                           {"entry", job.name},
                           {"external_id", *job.entry.external_id}});
            return;
        case n::watching:
            ctx_.log.info(
                "batch created by a resend; Catalog is asked once more for a twin once "
                "retry.catalog_lag has passed",
                {{"queue", q.cfg.name},
                 {"entry", job.name},
                 {"external_id", *job.entry.external_id}});
            return;
        case n::create_failed:
            // A create given up on is told by `entry failed` (with this reason), not as a retry.
            if (s.k == create_attempts::step::kind::failed) return;
            ctx_.log.warn("batch creation failed; will retry",
                          {{"queue", q.cfg.name},
                           {"entry", job.name},
                           {"dataset_id", job.entry.dataset_id},
                           {"attempt", attempts},
                           {"max_attempts", ctx_.cfg.retry.max_attempts},
                           {"retry_in_ms", static_cast<std::int64_t>(s.delay.count())},
                           {"error", s.note_reason}});
            return;
    }
}

asio::awaitable<create_stage::outcome> create_stage::run(entry_job& job) {
    using step = create_attempts::step;
    const std::string body = job.first == first_request::look_up_only
                                 ? std::string()
                                 : create_batch_body(job.entry, job.q->cfg.default_input_format);
    create_attempts m(ctx_.cfg.retry, job.first, *job.entry.external_id, job.started, job.unparsed,
                      earlier(job));
    outcome o;
    while (true) {
        if (ctx_.run.stopping()) co_return o;  // it stays in processing/ and resumes at start
        auto token = co_await tokens_.get();
        if (!token) co_return o;
        const auto request = m.next();
        auto sent = co_await send(m, job, *token, body);
        if (!sent) co_return o;
        step s;
        if (request == create_attempts::request::look_up) {
            s = m.on_look_up(read_look_up(*sent, *job.entry.external_id),
                             std::chrono::steady_clock::now(), unit_(rng_));
        } else {
            const auto reply = read_create(*sent);
            s = m.on_create(reply, std::chrono::steady_clock::now(), unit_(rng_));
            job.attempts = m.attempts();
            if (s.slow_down) api_.slow_down(reply.result.reason, s.slow_down_hint);
        }
        if (s.drop_token) tokens_.invalidate(*token);
        note(job, s, m.attempts());
        switch (s.k) {
            case step::kind::again:
                continue;
            case step::kind::wait:
                if (s.noted == step::note::create_failed) ctx_.metrics.retry(job.q->cfg.name);
                if (!co_await ctx_.run.pause(s.delay)) co_return o;
                continue;
            case step::kind::created:
            case step::kind::recovered:
                o.k =
                    s.k == step::kind::created ? outcome::kind::created : outcome::kind::recovered;
                // A batch exists: some create made it, whatever this entry's count knew.
                job.attempts = std::max(job.attempts, 1);
                co_await abort_twins(job, s.batch, s.abort);
                o.batch = std::move(s.batch);
                co_return o;
            case step::kind::failed:
                o.k = outcome::kind::failed;
                o.why = std::move(s.why);
                co_return o;
        }
    }
}

}  // namespace aep
