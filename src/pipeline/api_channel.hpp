// The one way every API request leaves (Vector's shared request layer): a request slot (at most
// http.concurrency in flight), the org-wide send gate (http.rate_limit and the shared pause
// after a 429), the exchange, and its count in /metrics. Holds the endpoints a reload swaps.
// Owns: the slots, the gate, the endpoints. Does not own: what a request means (aep/) or what to
// do with its answer (the stages). Threading: the loop only.
#pragma once

#include "aep/token_provider.hpp"
#include "config/endpoint.hpp"
#include "io/https_client.hpp"
#include "pipeline/context.hpp"
#include "policy/send_gate.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace aep {

class api_channel {
  public:
    api_channel(pipeline_context& ctx, https_client& client);

    // One API request: a slot, the gate, the exchange, its count under `kind` in /metrics.
    // nullopt when the daemon stops first. `before_send`, when set, runs once slot and gate let
    // the request go, right before it is written. `ep`, `req` and `before_send` must outlive the
    // call.
    boost::asio::awaitable<std::optional<http_outcome>> exchange(
        const char* kind, const endpoint& ep, http::request<http::string_body>& req,
        const std::function<void()>* before_send = nullptr);

    // An upload (a file's PUT or PATCH with `body`, or a file's INITIALIZE, HEAD, COMPLETE):
    // no request slot and no rate limit, only the shared pause after a 429. The caller holds
    // an upload slot (acquire_upload). nullopt when the daemon stops first.
    boost::asio::awaitable<std::optional<http_outcome>> exchange_upload(
        const char* kind, const endpoint& ep, http::request<http::string_body>& req,
        body_source* body = nullptr);
    // One of the upload.concurrency upload slots (files in flight, all batches together);
    // false when stopping. Released with release_upload.
    boost::asio::awaitable<bool> acquire_upload();
    void release_upload();
    int uploads_in_flight() const { return uploads_in_use_; }
    // upload.max_rate for all uploads together: waits until `bytes` more may leave (a token
    // bucket holding one second's worth). False when stopping.
    boost::asio::awaitable<bool> upload_budget(std::size_t bytes);

    // ABORT of a batch (while it is loading): a few tries with retry.initial_backoff between,
    // a fresh token after a 401, none after another 4xx (no longer loading). `stopped` when the
    // daemon stops first; `why` says what the last try met when not aborted.
    struct abort_result {
        bool aborted = false, stopped = false;
        std::string why;
    };
    boost::asio::awaitable<abort_result> abort_batch(token_provider& tokens,
                                                     std::string_view sandbox,
                                                     const std::string& batch_id);

    // The API asked us to slow down: everybody waits, not only the request that was told, for
    // `hint` when the server said, else retry.initial_backoff (at least 1 s); at most 10 min.
    void slow_down(const std::string& why, std::optional<std::chrono::milliseconds> hint);

    // Shared so that a request under way keeps the endpoint it started with across a reload.
    std::shared_ptr<const endpoint> import_endpoint() const { return import_ep_; }
    std::shared_ptr<const endpoint> catalog_endpoint() const { return catalog_ep_; }

    // A reload: new endpoints and rate; requests waiting for a slot look at the new number.
    void reconfigure(const config& next);
    void stop() {  // waiters see the stop
        slot_free_.cancel();
        upload_free_.cancel();
    }

  private:
    struct slot_guard;
    boost::asio::awaitable<bool> acquire_slot();
    bool release_slot();  // true when a request waiting for a slot was woken
    boost::asio::awaitable<bool> pass_gate();

    pipeline_context& ctx_;
    https_client& client_;
    std::shared_ptr<const endpoint> import_ep_;
    std::shared_ptr<const endpoint> catalog_ep_;
    send_gate gate_;
    int slots_in_use_ = 0;
    boost::asio::steady_timer slot_free_;  // requests waiting for a slot; release wakes one
    int uploads_in_use_ = 0;
    double upload_tokens_ = 0;  // bytes that may leave now (upload.max_rate)
    std::chrono::steady_clock::time_point upload_refilled_ = std::chrono::steady_clock::now();
    boost::asio::steady_timer upload_free_;  // files waiting for an upload slot
};

}  // namespace aep
