#include "pipeline/recorder.hpp"

#include "aep/external_id.hpp"
#include "aep/records.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/json/serialize.hpp>

namespace aep {

namespace asio = boost::asio;

// A created batch is recorded by a task of its own, so that the worker's request slot goes to
// the next entry at once instead of waiting for the disk (a sync shared with other entries).
// At most 16 times http.concurrency such tasks run, about 4 KiB each: a sync can take a few
// hundred ms (one that writes a large freshly written backlog, or a busy shared disk), and
// requests go on meanwhile (tests/bench at concurrency 64: 8 times held throughput back by a
// fifth to a quarter; 32 times cost 2-3 MiB more at the default concurrency, and the peak RSS
// then grew with the backlog beyond the 2 MiB the benchmark allows).
// Beyond that the worker records itself, which holds the pipeline back when the disk cannot keep
// up. The entry stays in flight (not taken again, counted by a stop) until its record is
// durable.
asio::awaitable<recorder::handling> recorder::created(entry_job& job, create_result& r,
                                                      bool recovered) {
    if (recording_ >= 16 * ctx_.cfg.http.concurrency) {
        co_await record_success(job, r, recovered);
        co_return handling::here;
    }
    ++recording_;
    asio::co_spawn(ctx_.ioc, record_apart(std::move(job), std::move(r), recovered),
                   [this](std::exception_ptr e) {
                       --recording_;
                       if (e) {
                           ctx_.log.error("recording a created batch failed unexpectedly",
                                          {{"error", describe(e)}});
                       }
                   });
    co_return handling::apart;
}

asio::awaitable<void> recorder::record_apart(entry_job job, create_result r, bool recovered) {
    try {
        co_await record_success(job, r, recovered);
    } catch (const std::exception& e) {
        // Left in processing/: resumed (with a Catalog check) at the next start.
        ctx_.log.error("cannot record a created batch",
                       {{"queue", job.q->cfg.name}, {"entry", job.name}, {"error", e.what()}});
    }
    finish_(job.item);
}

namespace {
double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::string done_text(const entry_job& job, const create_result& r, bool recovered) {
    done_record_fields fields;
    fields.queue = job.q->cfg.name;
    fields.entry = job.name;
    fields.dataset_id = job.entry.dataset_id;
    fields.external_id = *job.entry.external_id;
    const std::string created_at =
        job.full && !job.full->created_at.empty() ? job.full->created_at : utc_timestamp();
    fields.created_at = created_at;  // fields only view their strings
    fields.attempts = job.attempts;
    fields.recovered = recovered;
    if (!job.full) return done_record_text(fields, r);
    const auto& f = *job.full;
    full_outcome full;
    for (std::size_t i = 0; i < job.entry.files.size(); ++i) {
        const auto& df = job.entry.files[i];
        full.files.push_back({df.path, df.remote, f.identities[i].size, f.sha256[i]});
    }
    if (f.status) full.status = &*f.status;
    full.completed_at = f.completed_at;
    full.finished_at = f.finished_at;
    return done_record_text(fields, r, &full);
}
}  // namespace

// The batch exists: its record must reach the disk, however long the disk takes to allow it.
//
// A stamped entry gets its record in its own file: the content is replaced in place, the file
// system synced (with every other entry's changes since the last sync), and the file moved into
// done/. No file is created or removed, and a crash at any instant leaves either the entry, a
// complete record (filed at the next start) or a torn mix with the stamp (recovered through
// Catalog). Otherwise the record is a new file, written and synced before the entry is removed.
asio::awaitable<void> recorder::record_success(entry_job& job, create_result& r, bool recovered) {
    const spool_queue& q = *job.q;
    // A torn entry's dataset id survives only in Catalog's answer.
    if (job.entry.dataset_id.empty() && !r.dataset_id.empty()) job.entry.dataset_id = r.dataset_id;
    // Many records may wait for a sync at once (see created): each holds one copy of its text,
    // and the 201 body is dropped once it is in there.
    const std::string text = done_text(job, r, recovered);
    std::string().swap(r.response);
    const spool* sp = &q.sp;
    const std::string& name = job.name;
    const std::string& xid = *job.entry.external_id;
    const auto in_place = [sp, &name, &text] { return sp->write_record_in_place(name, text); };
    const auto file = [sp, &name, &xid] { return sp->file_record(name, xid); };
    const auto record = [sp, &name, &xid, &text] {
        return sp->record_done(name, xid, text, spool::sync_mode::by_caller);
    };
    const auto remove = [sp, &name] {
        sp->remove_claimed(name);
        return true;
    };
    const std::string claimed_path = sp->path("processing", name);
    bool written = false, synced = false;  // a retry never writes a second record
    bool separate = job.place == record_place::separate;
    const auto attempt = [&]() -> asio::awaitable<void> {
        if (!separate && !synced) {
            // Write, sync and move in the group's one trip to the pool.
            bool not_writable = false;
            group_sync::item item;
            item.file = claimed_path;
            if (!written) {
                item.before = [&written, &not_writable, &in_place] {
                    written = in_place();
                    not_writable = !written;
                    return written;
                };
            }
            item.after = [&file] { file(); };
            co_await syncs_.join_spool(*sp, item);
            if (!not_writable) {
                synced = item.synced;
                if (!item.error.empty()) throw spool_error(item.error);
                co_return;
            }
            separate = true;  // cannot be opened for writing: a separate record instead
        }
        if (!written) {
            co_await ctx_.files.run(record);
            written = true;
        }
        if (!synced) {
            const std::string done_dir = sp->path("done", "");
            co_await syncs_.sync_dir(done_dir);
            synced = true;
        }
        if (separate) {
            co_await ctx_.files.run(remove);
        } else {
            co_await ctx_.files.run(file);
        }
    };
    const auto complain = [&](const std::string& error) {
        ctx_.log.error(
            "cannot record a created batch; retrying",
            {{"queue", q.cfg.name}, {"entry", name}, {"batch_id", r.batch_id}, {"error", error}});
    };
    // Stopping first: left in processing/, where the next start finds it.
    if (!co_await until_durable(ctx_.run, attempt, complain)) co_return;
    count_created(job, r, recovered);
}

void recorder::created_full(const entry_job& job) {
    log_created(job, job.full->batch, false);
}

asio::awaitable<void> recorder::finished(entry_job& job) {
    auto& f = *job.full;
    const auto& st = *f.status;
    const auto latency = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - job.started);
    const std::string errors = boost::json::serialize(st.errors);
    ctx_.metrics.finished(job.q->cfg.name, st.status);
    const std::vector<log_field> fields = {
        {"queue", job.q->cfg.name},
        {"batch_id", f.batch.batch_id},
        {"status", st.status},
        {"records", st.record_count.value_or(-1)},
        {"failed_records", st.failed_record_count.value_or(-1)},
        {"errors", errors},
        {"latency_ms", static_cast<std::int64_t>(latency.count())},
        {"entry", job.name}};
    if (st.k == batch_status::kind::succeeded) {
        create_result r = f.batch;
        co_await record_success(job, r, false);
        ctx_.log.log(log_level::info, "batch succeeded", std::span<const log_field>(fields));
        co_return;
    }
    f.stage = entry_stage::track;
    ctx_.log.warn("batch failed", fields);
    const failure why{"the batch ended " + st.status + " (Catalog's errors are in `errors`)",
                      std::nullopt, {}, {}};
    co_await failed(job, why);
}

void recorder::count_created(const entry_job& job, const create_result& r, bool recovered) {
    ++stats_.done;
    stats_.last_success = std::chrono::system_clock::now();
    ctx_.metrics.entry(job.q->cfg.name, metrics_counters::outcome::done, seconds_since(job.started),
                       unix_seconds(stats_.last_success));
    stats_.last_progress = std::chrono::steady_clock::now();
    stats_.last_batch = r.batch_id;
    if (!job.full) log_created(job, r, recovered);
}

void recorder::log_created(const entry_job& job, const create_result& r, bool recovered) {
    const spool_queue& q = *job.q;
    const auto latency = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - job.started);
    ctx_.log.info(recovered ? "batch recovered" : "batch created",
                  {{"queue", q.cfg.name},
                   {"dataset_id", job.entry.dataset_id},
                   {"batch_id", r.batch_id},
                   {"stage_path", r.stage_path},
                   {"attempts", job.attempts},
                   {"latency_ms", static_cast<std::int64_t>(latency.count())},
                   {"entry", job.name},
                   {"external_id", *job.entry.external_id}});
}

asio::awaitable<void> recorder::failed(entry_job& job, const failure& why) {
    const spool_queue& q = *job.q;
    failure_record_fields f;
    f.queue = q.cfg.name;
    f.entry = job.name;
    f.dataset_id = job.entry.dataset_id;
    if (job.entry.external_id) f.external_id = *job.entry.external_id;
    f.reason = why.reason;
    f.http_status = why.http_status;
    f.response_body = why.response_body;
    f.request_id = why.request_id;
    f.attempts = job.attempts;
    if (job.full) {
        const auto& full = *job.full;
        f.stage = to_string(full.stage);
        f.batch_id = full.batch.batch_id;
        f.file = full.file;
        if (full.status) f.status = &*full.status;
    }
    const std::string failed_at = utc_timestamp();
    f.failed_at = failed_at;
    const std::string text = failure_record_text(f);
    const spool* sp = &q.sp;
    const std::string name = job.name;
    const std::string unique = job.entry.external_id.value_or(new_external_id());
    const auto op = [sp, name, unique, text] { return sp->fail(name, unique, text); };
    std::string record;  // the error record's path
    const auto attempt = [&]() -> asio::awaitable<void> { record = co_await ctx_.files.run(op); };
    const auto complain = [&](const std::string& error) {
        ctx_.log.error("cannot record a failed entry; retrying",
                       {{"queue", q.cfg.name}, {"entry", name}, {"error", error}});
    };
    if (!co_await until_durable(ctx_.run, attempt, complain)) co_return;
    ++stats_.failed;
    ctx_.metrics.entry(q.cfg.name, metrics_counters::outcome::failed, seconds_since(job.started),
                       unix_seconds(std::chrono::system_clock::now()));
    std::vector<log_field> fields = {{"queue", q.cfg.name},
                                     {"entry", name},
                                     {"dataset_id", job.entry.dataset_id},
                                     {"error", why.reason},
                                     {"attempts", job.attempts},
                                     {"record", record}};
    if (why.http_status) fields.push_back({"http_status", static_cast<std::int64_t>(*why.http_status)});
    if (!why.request_id.empty()) fields.push_back({"request_id", why.request_id});
    ctx_.log.warn("entry failed", fields);
}

}  // namespace aep
