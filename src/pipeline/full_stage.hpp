// A full entry's own stages (README, *Full ingestion*): its files checked before any batch
// exists; once the batch is created, its id made durable, each file uploaded (streamed from
// its descriptor in bounded pieces, hashed on the way, checked against its identity at the
// claim), the batch completed; then handed to the tracker. A file at fault, or an answer that
// refuses, aborts the batch while it is loading.
// Owns: the validate, upload and complete steps and their log lines. Does not own: the
// machines (policy/file_upload, policy/full_entry), tracking (pipeline/tracker), records.
// Threading: the loop; file reads on the pool.
#pragma once

#include "aep/token_provider.hpp"
#include "io/group_sync.hpp"
#include "pipeline/api_channel.hpp"
#include "pipeline/context.hpp"

#include <boost/asio/awaitable.hpp>

#include <random>
#include <string>

namespace aep {

class file_body;

class full_stage {
  public:
    full_stage(pipeline_context& ctx, api_channel& api, token_provider& tokens, group_sync& syncs)
        : ctx_(ctx), api_(api), tokens_(tokens), syncs_(syncs) {}

    // Every file opened beneath the queue's data_dir and its identity taken; the progress an
    // earlier run left read. An error (naming the file) sends the entry to failed/ at stage
    // validate, before any batch exists. Sets job.full.
    boost::asio::awaitable<std::string> validate(entry_job& job);

    struct outcome {
        enum class kind { completed, failed, stopped } k = kind::stopped;
        failure why;  // failed: job.full says the stage, file and status
    };
    // From a created batch to its accepted COMPLETE (job.full->progress.completed_ms).
    boost::asio::awaitable<outcome> run(entry_job& job);

  private:
    struct file_result {
        bool ok = false, stopped = false;
        failure why;
        bool permanent = false;
    };
    boost::asio::awaitable<file_result> upload_file(entry_job& job, std::size_t i);
    boost::asio::awaitable<file_result> send_file(entry_job& job, std::size_t i, file_body& body);
    boost::asio::awaitable<bool> save_progress(entry_job& job, bool sync);
    boost::asio::awaitable<std::string> verify_all(entry_job& job);
    boost::asio::awaitable<std::string> hash_sent(entry_job& job);
    boost::asio::awaitable<outcome> complete(entry_job& job);
    boost::asio::awaitable<void> abort(entry_job& job);

    pipeline_context& ctx_;
    api_channel& api_;
    token_provider& tokens_;
    group_sync& syncs_;
    std::mt19937_64 rng_{std::random_device{}()};
    std::uniform_real_distribution<double> unit_{0.0, 1.0};
};

}  // namespace aep
