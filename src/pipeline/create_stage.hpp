// The create: an entry's requests until its batch exists, is found in Catalog, or the entry
// gives up. A shell over policy/create_attempts.hpp (Boost.Redis's run_op over its run_fsm):
// it asks the machine which request comes next, makes it through the api_channel, and hands
// the machine the answer, the clock and the jitter.
// Owns: the requests' construction and the log lines of retries. Does not own: recording.
#pragma once

#include "aep/token_provider.hpp"
#include "pipeline/api_channel.hpp"
#include "pipeline/context.hpp"

#include <boost/asio/awaitable.hpp>

#include <random>
#include <string>
#include <vector>

namespace aep {

class create_stage {
  public:
    struct outcome {
        enum class kind {
            stopped,    // the daemon stops: the entry stays in processing/
            created,    // `batch` was created by this entry's request
            recovered,  // `batch` was found in Catalog
            failed,     // `why`
        } k = kind::stopped;
        create_result batch;
        failure why;
    };

    create_stage(pipeline_context& ctx, api_channel& api, token_provider& tokens)
        : ctx_(ctx), api_(api), tokens_(tokens) {}

    // job.attempts counts the creates sent, as they are sent.
    boost::asio::awaitable<outcome> run(entry_job& job);

  private:
    // The request the machine asked for; nullopt when the daemon stops first.
    boost::asio::awaitable<std::optional<http_outcome>> send(const create_attempts& m,
                                                             entry_job& job,
                                                             const std::string& token,
                                                             const std::string& body);
    void note(const entry_job& job, const create_attempts::step& s, int attempts);
    static earlier_runs earlier(const entry_job& job);
    boost::asio::awaitable<void> abort_twins(const entry_job& job, const create_result& kept,
                                             const std::vector<std::string>& twins);

    pipeline_context& ctx_;
    api_channel& api_;
    token_provider& tokens_;
    std::mt19937_64 rng_{std::random_device{}()};
    std::uniform_real_distribution<double> unit_{0.0, 1.0};
};

}  // namespace aep
