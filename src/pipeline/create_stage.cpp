#include "pipeline/create_stage.hpp"

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

asio::awaitable<std::optional<http_outcome>> create_stage::send(create_attempts::request r,
                                                                const entry_job& job,
                                                                const std::string& token,
                                                                const std::string& body) {
    const bool look = r == create_attempts::request::look_up;
    // Kept for the whole exchange, whatever a reload does.
    const auto ep = look ? api_.catalog_endpoint() : api_.import_endpoint();
    const auto& platform = ctx_.cfg.platform;
    const std::string& sandbox = job.q->cfg.sandbox;
    auto req = look ? catalog_lookup_request(*ep, platform, sandbox, token, *job.entry.external_id)
                    : create_batch_request(*ep, platform, sandbox, token, body);
    co_return co_await api_.exchange(look ? "lookup" : "create", *ep, req);
}

void create_stage::note(const entry_job& job, const create_attempts::step& s, int attempts) {
    using n = create_attempts::step::note;
    const auto& q = *job.q;
    switch (s.noted) {
        case n::none:
            return;
        case n::look_up_failed:
            ctx_.log.warn("batch look-up failed; will retry",
                          {{"queue", q.cfg.name}, {"entry", job.name}, {"reason", s.note_reason}});
            return;
        case n::torn_not_listed:
            ctx_.log.warn("batch of a torn entry not in Catalog yet; will ask again",
                          {{"queue", q.cfg.name},
                           {"entry", job.name},
                           {"external_id", *job.entry.external_id}});
            return;
        case n::create_failed:
            ctx_.log.warn("batch creation failed; will retry", {{"queue", q.cfg.name},
                                                                {"entry", job.name},
                                                                {"attempt", attempts},
                                                                {"reason", s.note_reason}});
            return;
    }
}

asio::awaitable<create_stage::outcome> create_stage::run(entry_job& job) {
    using step = create_attempts::step;
    const std::string body = job.first == first_request::look_up_only
                                 ? std::string()
                                 : create_batch_body(job.entry, job.q->cfg.default_input_format);
    create_attempts m(ctx_.cfg.retry, job.first, *job.entry.external_id, job.started, job.unparsed);
    outcome o;
    while (true) {
        if (ctx_.run.stopping()) co_return o;  // it stays in processing/ and resumes at start
        auto token = co_await tokens_.get();
        if (!token) co_return o;
        const auto request = m.next();
        auto sent = co_await send(request, job, *token, body);
        if (!sent) co_return o;
        step s;
        if (request == create_attempts::request::look_up) {
            s = m.on_look_up(read_look_up(*sent, *job.entry.external_id), unit_(rng_));
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
