// Completed batches followed to their final status in Catalog, holding no worker and no
// request slot between polls: each tracked entry is a small task asleep on the loop's timer
// until its next poll (track.poll_initial backing off to track.poll_max, for at most
// track.max_wait). Its final status goes to the recorder: done with `success` (or `active`,
// `inactive`, `deleted`), failed/ with Catalog's errors otherwise.
// Owns: the tasks, the polls and their log lines. Threading: the loop.
#pragma once

#include "aep/token_provider.hpp"
#include "pipeline/api_channel.hpp"
#include "pipeline/context.hpp"
#include "pipeline/recorder.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <random>

namespace aep {

class tracker {
  public:
    tracker(pipeline_context& ctx, api_channel& api, token_provider& tokens, recorder& records)
        : ctx_(ctx), api_(api), tokens_(tokens), records_(records) {}

    // Takes the job (moved from) and follows its batch; the entry's name is finished when
    // its record is durable, or left in processing/ by a stop (resumed at the next start).
    void track(entry_job&& job);
    std::size_t tracking() const { return tracking_; }
    int uploading() const { return api_.uploads_in_flight(); }  // files in flight, all entries

  private:
    boost::asio::awaitable<void> follow(entry_job job);

    pipeline_context& ctx_;
    api_channel& api_;
    token_provider& tokens_;
    recorder& records_;
    std::size_t tracking_ = 0;
    std::mt19937_64 rng_{std::random_device{}()};
    std::uniform_real_distribution<double> unit_{0.0, 1.0};
};

}  // namespace aep
