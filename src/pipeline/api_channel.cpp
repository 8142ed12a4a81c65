#include "pipeline/api_channel.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace aep {

namespace asio = boost::asio;

namespace {
std::shared_ptr<const endpoint> make_endpoint(const std::string& url) {
    return std::make_shared<const endpoint>(*parse_endpoint(url).value);
}
}  // namespace

api_channel::api_channel(pipeline_context& ctx, https_client& client)
    : ctx_(ctx),
      client_(client),
      import_ep_(make_endpoint(ctx.cfg.platform.import_url)),
      catalog_ep_(make_endpoint(ctx.cfg.platform.catalog_url)),
      gate_(ctx.cfg.http.rate_limit, ctx.cfg.http.concurrency),
      slot_free_(ctx.ioc),
      upload_free_(ctx.ioc) {
    slot_free_.expires_at(std::chrono::steady_clock::time_point::max());
    upload_free_.expires_at(std::chrono::steady_clock::time_point::max());
}

asio::awaitable<bool> api_channel::acquire_upload() {
    while (!ctx_.run.stopping()) {
        if (uploads_in_use_ < ctx_.cfg.upload.concurrency) {
            ++uploads_in_use_;
            co_return true;
        }
        co_await upload_free_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    co_return false;
}

asio::awaitable<bool> api_channel::upload_budget(std::size_t bytes) {
    while (!ctx_.run.stopping()) {
        const double rate = static_cast<double>(ctx_.cfg.upload.max_rate);
        if (rate <= 0) co_return true;
        const auto now = std::chrono::steady_clock::now();
        const double elapsed = std::chrono::duration<double>(now - upload_refilled_).count();
        upload_refilled_ = now;
        upload_tokens_ = std::min(rate, upload_tokens_ + elapsed * rate);
        const double want = std::min(static_cast<double>(bytes), rate);  // a piece above a second's worth waits a second
        if (upload_tokens_ >= want) {
            upload_tokens_ -= static_cast<double>(bytes);  // may go below 0: the next waits longer
            co_return true;
        }
        const auto wait = std::chrono::milliseconds(
            static_cast<std::int64_t>((want - upload_tokens_) / rate * 1000.0) + 1);
        if (!co_await ctx_.run.pause(wait)) co_return false;
    }
    co_return false;
}

asio::awaitable<api_channel::abort_result> api_channel::abort_batch(token_provider& tokens,
                                                                     std::string_view sandbox,
                                                                     const std::string& batch_id) {
    abort_result r;
    for (int attempt = 0; attempt < 3; ++attempt) {
        auto token = co_await tokens.get();
        if (!token) break;
        const auto ep = import_ep_;  // kept for the exchange, whatever a reload does
        const api_caller as{ctx_.cfg.platform, sandbox, *token};
        auto req = abort_batch_request(*ep, as, batch_id);
        auto sent = co_await exchange("abort", *ep, req);
        if (!sent) break;
        if (sent->failure != transport_failure::none) {
            r.why = std::string(to_string(sent->failure)) + " error: " + sent->error;
        } else if (const unsigned st = sent->response.result_int(); st / 100 == 2) {
            r.aborted = true;
            co_return r;
        } else {
            r.why = "HTTP " + std::to_string(st) + ": " + body_excerpt(sent->response.body());
            if (st == 401) tokens.invalidate(*token);
            // Refused as it is (no longer loading): trying again changes nothing.
            if (st / 100 == 4 && st != 401 && st != 429) co_return r;
        }
        if (!co_await ctx_.run.pause(ctx_.cfg.retry.initial_backoff)) break;
    }
    r.stopped = ctx_.run.stopping();
    co_return r;
}

void api_channel::release_upload() {
    --uploads_in_use_;
    upload_free_.cancel_one();
}

asio::awaitable<std::optional<http_outcome>> api_channel::exchange_upload(
    const char* kind, const endpoint& ep, http::request<http::string_body>& req,
    body_source* body) {
    while (!ctx_.run.stopping()) {
        const auto now = std::chrono::steady_clock::now();
        const auto until = gate_.paused_until();
        if (until <= now) break;
        const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(until - now) +
                          std::chrono::milliseconds(1);
        if (!co_await ctx_.run.pause(wait)) co_return std::nullopt;
    }
    if (ctx_.run.stopping()) co_return std::nullopt;
    auto out = co_await client_.send(ep, req, body);
    ctx_.metrics.request(kind,
                         out.failure == transport_failure::none ? out.response.result_int() : 0,
                         std::chrono::duration<double>(out.elapsed).count());
    co_return out;
}

void api_channel::reconfigure(const config& next) {
    import_ep_ = make_endpoint(next.platform.import_url);
    catalog_ep_ = make_endpoint(next.platform.catalog_url);
    gate_.set_rate(next.http.rate_limit, next.http.concurrency);
    slot_free_.cancel();  // waiters look at the new number of slots (ctx.cfg, once assigned)
    upload_free_.cancel();
}

// Waits for one of the http.concurrency request slots; false when stopping.
asio::awaitable<bool> api_channel::acquire_slot() {
    while (!ctx_.run.stopping()) {
        if (slots_in_use_ < ctx_.cfg.http.concurrency) {
            ++slots_in_use_;
            co_return true;
        }
        co_await slot_free_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    co_return false;
}

bool api_channel::release_slot() {
    --slots_in_use_;
    return slot_free_.cancel_one() > 0;
}

// Waits until the rate limit and any shared 429 pause let one API request leave.
asio::awaitable<bool> api_channel::pass_gate() {
    while (!ctx_.run.stopping()) {
        const auto now = std::chrono::steady_clock::now();
        const auto at = gate_.ready_at(now);
        if (at <= now) {
            gate_.take(now);
            co_return true;
        }
        const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(at - now) +
                          std::chrono::milliseconds(1);
        if (!co_await ctx_.run.pause(wait)) co_return false;
    }
    co_return false;
}

void api_channel::slow_down(const std::string& why, std::optional<std::chrono::milliseconds> hint) {
    const auto now = std::chrono::steady_clock::now();
    const auto before = gate_.paused_until();
    const auto d = std::min(
        hint.value_or(std::max(ctx_.cfg.retry.initial_backoff, std::chrono::milliseconds(1000))),
        max_server_pause);
    gate_.pause(now, d);
    if (gate_.paused_until() > before && before <= now) {
        ctx_.log.warn("the API asked to slow down; pausing all requests",
                      {{"error", why}, {"pause_ms", static_cast<std::int64_t>(d.count())}});
    }
}

// Holds a request slot until release() or the end of its scope (a return or an exception).
struct api_channel::slot_guard {
    api_channel* c;
    bool held = true;
    bool release() {
        const bool woke = held && c->release_slot();
        held = false;
        return woke;
    }
    ~slot_guard() { release(); }
};

asio::awaitable<std::optional<http_outcome>> api_channel::exchange(
    const char* kind, const endpoint& ep, http::request<http::string_body>& req,
    const std::function<void()>* before_send) {
    if (!co_await acquire_slot()) co_return std::nullopt;
    slot_guard slot{this};
    if (!co_await pass_gate()) co_return std::nullopt;
    if (before_send && *before_send) (*before_send)();
    auto out = co_await client_.send(ep, req);
    if (slot.release()) {
        // The request woken for the freed slot leaves before this answer is worked on further:
        // with a slow server, that turn-around is what each slot's cycle is made of.
        co_await asio::post(ctx_.ioc, asio::use_awaitable);
    }
    ctx_.metrics.request(kind,
                         out.failure == transport_failure::none ? out.response.result_int() : 0,
                         std::chrono::duration<double>(out.elapsed).count());
    co_return out;
}

}  // namespace aep
