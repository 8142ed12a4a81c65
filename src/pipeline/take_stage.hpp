// The take: an entry's name becomes a job ready for its first request. Claims the file (or
// reads it again from processing/), reads and parses it, decides what it is
// (policy/take_decision.hpp), stamps its externalId and makes that id durable where the first
// request needs it. All file work of one take is one trip to the file pool, shared with every
// entry taken meanwhile.
// Owns: the take's file work and its log lines. Does not own: what happens next (workers).
#pragma once

#include "io/group_sync.hpp"
#include "pipeline/context.hpp"

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <string>

namespace aep {

class take_stage {
  public:
    struct outcome {
        enum class kind {
            finished,  // nothing more to do now: taken elsewhere, filed, an error logged, a stop
            recheck,   // still being written in place: look at the name again shortly
            fail,      // not an entry: `reason` goes into its failed/ record
            create,    // job is ready for its first request
        } k = kind::finished;
        std::string reason;
    };

    // `alone()` says whether nothing else is under way (no other entry in flight, no record
    // being written, no sync): then the take runs on the loop itself instead of a pool trip.
    take_stage(pipeline_context& ctx, group_sync& syncs, std::function<bool()> alone)
        : ctx_(ctx), syncs_(syncs), alone_(std::move(alone)) {}

    boost::asio::awaitable<outcome> take(entry_job& job);

  private:
    boost::asio::awaitable<bool> make_id_durable(entry_job& job, bool rewrite);

    pipeline_context& ctx_;
    group_sync& syncs_;
    std::function<bool()> alone_;
};

}  // namespace aep
