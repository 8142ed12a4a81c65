#include "pipeline/full_stage.hpp"

#include "pipeline/file_body.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>

namespace aep {

namespace asio = boost::asio;

namespace {

call_answer answer_of(const http_outcome& out) {
    call_answer a;
    if (out.failure != transport_failure::none) {
        a.transport_error = std::string(to_string(out.failure)) + " error: " + out.error;
        return a;
    }
    const auto& res = out.response;
    a.status = res.result_int();
    a.range = std::string(res[http::field::range]);
    if (a.range.empty()) a.range = std::string(res[http::field::content_range]);
    a.retry_after = parse_retry_after(res[http::field::retry_after], std::chrono::system_clock::now());
    if (a.status >= 300) a.body_excerpt = body_excerpt(res.body());
    a.request_id = std::string(res["x-request-id"]);
    return a;
}

// Why the bytes read (their SHA-256 `hex`) are not the entry's file, or "".
std::string checksum_problem(const data_file& df, const std::string& hex) {
    if (!df.sha256 || *df.sha256 == hex) return {};
    return "file " + df.path + ": its bytes do not match the entry's sha256 (expected " +
           *df.sha256 + ", read " + hex + ")";
}

const char* kind_of(file_upload::request r) {
    return r == file_upload::request::put || r == file_upload::request::part ? "upload" : "file";
}

}  // namespace

asio::awaitable<std::string> full_stage::validate(entry_job& job) {
    const auto& q = *job.q;
    const auto& files = job.entry.files;
    if (q.cfg.data_dir.empty()) {
        co_return "the entry names files, and queue " + q.cfg.name +
            " has no data_dir to read them from (set queues[].data_dir)";
    }
    for (std::size_t i = 0; i < files.size(); ++i) {
        if (upload_url_length(ctx_.cfg.platform.import_url, job.entry.dataset_id, files[i].remote) >=
            max_upload_url) {
            co_return "files[" + std::to_string(i) + "]: remote " + files[i].remote +
                " makes the upload URL longer than the API's 2000 characters";
        }
    }
    struct opened {
        std::vector<data_identity> ids;
        std::string error;
    };
    const std::string dir = q.cfg.data_dir;
    const std::vector<data_file> list = files;
    const auto open_all = [dir, list] {
        opened r;
        for (const auto& f : list) {
            auto o = open_data_file(dir, f.path);
            if (!o.problem.empty()) {
                r.error = o.problem;
                return r;
            }
            r.ids.push_back(o.identity);
        }
        return r;
    };
    auto r = co_await ctx_.files.run(open_all);
    if (!r.error.empty()) co_return r.error;
    std::uint64_t total = 0;
    for (const auto& id : r.ids) total += id.size;
    if (total > max_bytes_per_batch) {
        co_return "the files hold " + std::to_string(total) +
            " bytes; a batch takes at most 100 GB (100000000000 bytes)";
    }
    job.full.emplace();
    auto& f = *job.full;
    f.identities = std::move(r.ids);
    f.sha256.assign(files.size(), {});
    f.progress.uploaded.assign(files.size(), false);
    if (const auto text = spool::read_full_progress(job.hold)) {
        if (auto p = decode_full_progress(*text, files.size())) f.progress = std::move(*p);
    }
    co_return std::string();
}

asio::awaitable<bool> full_stage::save_progress(entry_job& job, bool sync) {
    spool::write_full_progress(job.hold, encode_full_progress(job.full->progress));
    if (!sync) co_return true;
    const spool* sp = &job.q->sp;
    const std::string file = sp->path("processing", job.name);
    const auto attempt = [&]() -> asio::awaitable<void> { co_await syncs_.sync_spool(*sp, file); };
    const auto complain = [&](const std::string& error) {
        ctx_.log.error("cannot persist the entry's progress; retrying",
                       {{"queue", job.q->cfg.name}, {"entry", job.name}, {"error", error}});
    };
    co_return co_await until_durable(ctx_.run, attempt, complain);
}

asio::awaitable<full_stage::outcome> full_stage::run(entry_job& job) {
    auto& f = *job.full;
    outcome o;
    // The batch's id reaches the disk before its first file is sent: a crash from here on
    // goes on with this batch, never a second one.
    if (f.progress.batch_id != f.batch.batch_id) {
        f.progress.batch_id = f.batch.batch_id;
        if (!co_await save_progress(job, true)) co_return o;
    }
    if (f.progress.completed_ms) {
        // Completed by an earlier run: the tracker goes on (the files are hashed for the record).
        o.k = outcome::kind::completed;
        if (auto problem = co_await hash_sent(job); !problem.empty()) {
            // Changed after the batch was completed: the batch is AEP's now; the record says so.
            ctx_.log.warn("a file changed after its batch was completed",
                          {{"queue", job.q->cfg.name}, {"entry", job.name}, {"error", problem}});
        }
        co_return o;
    }
    // Lanes take the files in turn, each file holding one of the upload slots while it goes.
    std::size_t cursor = 0;
    int lanes = 0;
    bool failed = false, stopped = false;
    file_result first_failure;
    asio::steady_timer all_done(ctx_.ioc);
    all_done.expires_at(std::chrono::steady_clock::time_point::max());
    const auto lane = [&]() -> asio::awaitable<void> {
        while (!failed && !stopped && !ctx_.run.stopping()) {
            while (cursor < f.progress.uploaded.size() && f.progress.uploaded[cursor]) ++cursor;
            if (cursor >= f.progress.uploaded.size()) break;
            const std::size_t i = cursor++;
            file_result r;
            try {
                r = co_await upload_file(job, i);
            } catch (const std::exception& e) {
                if (ctx_.run.stopping()) {
                    r.stopped = true;  // cut off by the stop: the file goes again next run
                } else {
                    r.why.reason = "file " + job.entry.files[i].path + ": " + e.what();
                    r.permanent = true;
                    f.file = job.entry.files[i].path;
                }
            }
            if (r.stopped) stopped = true;
            if (!r.ok && !r.stopped) ctx_.metrics.upload_failed(job.q->cfg.name, f.identities[i].size);
            if (!r.ok && !r.stopped && !failed) {
                failed = true;
                first_failure = std::move(r);
            }
        }
    };
    const auto want = std::min<std::size_t>(static_cast<std::size_t>(ctx_.cfg.upload.concurrency),
                                            f.progress.uploaded.size());
    for (std::size_t n = 0; n < want; ++n) {
        ++lanes;
        asio::co_spawn(ctx_.ioc, lane(), [&](std::exception_ptr) {
            if (--lanes == 0) all_done.cancel();
        });
    }
    while (lanes > 0) co_await all_done.async_wait(asio::as_tuple(asio::use_awaitable));
    if (failed) {
        o.k = outcome::kind::failed;
        o.why = std::move(first_failure.why);
        f.stage = entry_stage::upload;
        co_await abort(job);
        co_return o;
    }
    if (stopped || ctx_.run.stopping()) co_return o;
    if (auto problem = co_await hash_sent(job); !problem.empty()) {
        o.k = outcome::kind::failed;
        o.why.reason = problem;
        f.stage = entry_stage::upload;
        co_await abort(job);
        co_return o;
    }
    co_return co_await complete(job);
}

// Files an earlier run sent: their bytes hashed now (the file as it is, checked against its
// identity), for the record and against the entry's sha256. A problem names the file.
asio::awaitable<std::string> full_stage::hash_sent(entry_job& job) {
    auto& f = *job.full;
    for (std::size_t i = 0; i < job.entry.files.size(); ++i) {
        if (!f.sha256[i].empty()) continue;
        const std::string dir = job.q->cfg.data_dir;
        const std::string path = job.entry.files[i].path;
        const data_identity claimed = f.identities[i];
        const auto hash = [dir, path, claimed]() -> std::pair<std::string, std::string> {
            auto opened = reopen_data_file(dir, path, claimed);
            if (!opened.problem.empty()) return {std::string(), opened.problem};
            try {
                return {sha256_of(opened.fd.get(), claimed.size, "file " + path), std::string()};
            } catch (const spool_error& e) {
                return {std::string(), e.what()};
            }
        };
        auto [hex, problem] = co_await ctx_.files.run(hash);
        if (problem.empty()) problem = checksum_problem(job.entry.files[i], hex);
        if (!problem.empty()) {
            f.file = path;
            co_return problem;
        }
        f.sha256[i] = hex;
    }
    co_return std::string();
}

asio::awaitable<full_stage::file_result> full_stage::upload_file(entry_job& job, std::size_t i) {
    file_result r;
    if (!co_await api_.acquire_upload()) {
        r.stopped = true;
        co_return r;
    }
    struct slot {
        api_channel& a;
        ~slot() { a.release_upload(); }
    } held{api_};
    const data_file& df = job.entry.files[i];
    const auto budget = [this](std::size_t bytes) { return api_.upload_budget(bytes); };
    file_body body(ctx_.ioc.get_executor(), ctx_.files, budget, job.full->identities[i].size,
                   "file " + df.path);
    if (auto problem = co_await body.open(job.q->cfg.data_dir, df.path, job.full->identities[i]);
        !problem.empty()) {
        r.why.reason = std::move(problem);
        r.permanent = true;
        job.full->file = df.path;
        co_return r;
    }
    co_return co_await send_file(job, i, body);
}

asio::awaitable<full_stage::file_result> full_stage::send_file(entry_job& job, std::size_t i,
                                                               file_body& body) {
    auto& f = *job.full;
    const data_file& df = job.entry.files[i];
    const std::uint64_t size = f.identities[i].size;
    const auto started = std::chrono::steady_clock::now();
    file_upload m(ctx_.cfg.upload, ctx_.cfg.retry, size, job.resumed);
    const std::string dir = job.q->cfg.data_dir;
    file_result r;
    auto step = m.next();
    bool first_part = true;
    while (step.k != file_upload::step::kind::done) {
        if (ctx_.run.stopping()) {
            r.stopped = true;
            co_return r;
        }
        if (step.k == file_upload::step::kind::failed) {
            r.why = failure{"file " + df.path + ": " + step.reason, step.http_status, {}, {}};
            r.permanent = true;
            f.file = df.path;
            co_return r;
        }
        if (step.k == file_upload::step::kind::wait) {
            // retry.max_age runs from the claim until the batch is completed.
            const auto age = std::chrono::steady_clock::now() + step.delay - job.started;
            if (ctx_.cfg.retry.max_age.count() > 0 && age >= ctx_.cfg.retry.max_age) {
                r.why = failure{"file " + df.path + ": gave up after " +
                                    std::to_string(std::chrono::duration_cast<std::chrono::seconds>(age).count()) +
                                    " s (retry.max_age): " + step.note,
                                std::nullopt, {}, {}};
                r.permanent = true;
                f.file = df.path;
                co_return r;
            }
            if (!co_await ctx_.run.pause(step.delay)) {
                r.stopped = true;
                co_return r;
            }
            step.k = file_upload::step::kind::send;
        }
        using rq = file_upload::request;
        if (m.large() && ((step.what == rq::part && first_part) || step.what == rq::complete)) {
            // A large file is checked against its claim before its first part and before its
            // own COMPLETE.
            first_part = false;
            const std::string path = df.path;
            const data_identity claimed = f.identities[i];
            const auto check = [dir, path, claimed] { return reopen_data_file(dir, path, claimed).problem; };
            auto problem = co_await ctx_.files.run(check);
            if (!problem.empty()) {
                r.why.reason = problem;
                r.permanent = true;
                f.file = df.path;
                co_return r;
            }
        }
        auto token = co_await tokens_.get();
        if (!token) {
            r.stopped = true;
            co_return r;
        }
        const auto ep = api_.import_endpoint();
        const api_caller as{ctx_.cfg.platform, job.q->cfg.sandbox, *token};
        const file_target t{f.batch.batch_id, job.entry.dataset_id, df.remote};
        http::request<http::string_body> req;
        bool streamed = false;
        switch (step.what) {
            case rq::put:
                req = file_put_request(*ep, as, t, size);
                body.reset(0, size);
                streamed = true;
                break;
            case rq::part:
                req = file_part_request(*ep, as, t, step.first, step.last, size);
                body.reset(step.first, step.last - step.first + 1);
                streamed = true;
                break;
            case rq::initialize:
                req = file_action_request(*ep, as, t, "INITIALIZE");
                break;
            case rq::complete:
                req = file_action_request(*ep, as, t, "COMPLETE");
                break;
            case rq::head:
                req = file_head_request(*ep, as, t);
                break;
        }
        auto sent = co_await api_.exchange_upload(kind_of(step.what), *ep, req, streamed ? &body : nullptr);
        if (!sent) {
            r.stopped = true;
            co_return r;
        }
        const call_answer a = answer_of(*sent);
        const auto was = step.what;
        step = m.on_answer(a, unit_(rng_));
        if (step.drop_token) tokens_.invalidate(*token);
        if (step.slow_down) api_.slow_down("HTTP 429 to an upload", step.slow_down_hint);
        if (step.k == file_upload::step::kind::wait) {
            ctx_.log.warn("upload failed; will retry",
                          {{"queue", job.q->cfg.name},
                           {"entry", job.name},
                           {"batch_id", f.batch.batch_id},
                           {"file", df.path},
                           {"request", was == rq::put ? "PUT" : was == rq::part ? "PATCH" : "file action"},
                           {"retry_in_ms", static_cast<std::int64_t>(step.delay.count())},
                           {"max_attempts", ctx_.cfg.retry.max_attempts},
                           {"error", step.note}});
        }
    }
    // The bytes sent, hashed: on the way when they went in order, else read again now.
    co_await body.settle();
    std::string hex;
    if (body.hashed() == size) {
        hex = body.digest();
    } else {
        const int raw = body.fd();
        const std::string what = "file " + df.path;
        const auto rehash = [raw, size, what] { return sha256_of(raw, size, what); };
        hex = co_await ctx_.files.run(rehash);
    }
    if (auto problem = checksum_problem(df, hex); !problem.empty()) {
        r.why.reason = std::move(problem);
        r.permanent = true;
        f.file = df.path;
        co_return r;
    }
    f.sha256[i] = hex;
    f.progress.uploaded[i] = true;
    co_await save_progress(job, false);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    ctx_.metrics.uploaded(job.q->cfg.name, size);
    ctx_.log.info("file uploaded", {{"queue", job.q->cfg.name},
                                    {"batch_id", f.batch.batch_id},
                                    {"file", df.path},
                                    {"remote", df.remote},
                                    {"bytes", static_cast<std::int64_t>(size)},
                                    {"sha256", hex},
                                    {"latency_ms", static_cast<std::int64_t>(ms.count())}});
    r.ok = true;
    co_return r;
}

// Every file as it was at the claim, before the batch is completed.
asio::awaitable<std::string> full_stage::verify_all(entry_job& job) {
    const std::string dir = job.q->cfg.data_dir;
    const std::vector<data_file> files = job.entry.files;
    const std::vector<data_identity> ids = job.full->identities;
    const auto check = [dir, files, ids] {
        for (std::size_t i = 0; i < files.size(); ++i) {
            auto p = reopen_data_file(dir, files[i].path, ids[i]).problem;
            if (!p.empty()) return std::pair{i, p};
        }
        return std::pair{files.size(), std::string()};
    };
    const auto [at, problem] = co_await ctx_.files.run(check);
    if (!problem.empty()) job.full->file = files[at].path;
    co_return problem;
}

asio::awaitable<full_stage::outcome> full_stage::complete(entry_job& job) {
    auto& f = *job.full;
    outcome o;
    f.stage = entry_stage::complete;
    if (auto problem = co_await verify_all(job); !problem.empty()) {
        o.k = outcome::kind::failed;
        o.why.reason = problem;
        co_await abort(job);
        co_return o;
    }
    full_entry m(ctx_.cfg.retry, ctx_.cfg.track, f.progress.uploaded);
    while (!ctx_.run.stopping()) {
        auto token = co_await tokens_.get();
        if (!token) co_return o;
        const auto ep = api_.import_endpoint();
        const api_caller as{ctx_.cfg.platform, job.q->cfg.sandbox, *token};
        auto req = batch_complete_request(*ep, as, f.batch.batch_id);
        auto sent = co_await api_.exchange("complete", *ep, req);
        if (!sent) co_return o;
        const call_answer a = answer_of(*sent);
        auto s = m.on_complete(a, unix_ms(), unit_(rng_));
        if (s.drop_token) tokens_.invalidate(*token);
        if (s.slow_down) api_.slow_down("HTTP 429 to a COMPLETE", s.slow_down_hint);
        using k = full_entry::step::kind;
        if (s.k == k::failed) {
            o.k = outcome::kind::failed;
            o.why = failure{s.reason, a.transport_error ? std::nullopt : std::optional<unsigned>(a.status),
                            a.body_excerpt, a.request_id};
            co_await abort(job);
            co_return o;
        }
        if (s.k == k::wait && !co_await ctx_.run.pause(s.delay)) co_return o;
        if (s.k != k::poll) continue;
        f.progress.completed_ms = *m.completed_ms();
        f.completed_at = utc_timestamp();
        if (!co_await save_progress(job, true)) co_return o;
        std::uint64_t bytes = 0;
        for (const auto& id : f.identities) bytes += id.size;
        ctx_.log.info("batch completed", {{"queue", job.q->cfg.name},
                                          {"batch_id", f.batch.batch_id},
                                          {"files", f.identities.size()},
                                          {"bytes", static_cast<std::int64_t>(bytes)}});
        o.k = outcome::kind::completed;
        co_return o;
    }
    co_return o;
}

// A batch the entry will not finish is aborted while it is loading (a few tries; one that
// cannot be aborted is left to AEP, which abandons it). The status after it goes into the
// record.
asio::awaitable<void> full_stage::abort(entry_job& job) {
    auto& f = *job.full;
    const std::string sandbox = job.q->cfg.sandbox;
    const std::string id = f.batch.batch_id;
    const auto tried = co_await api_.abort_batch(tokens_, sandbox, id);
    if (tried.aborted) {
        batch_status aborted;
        aborted.status = "aborted";
        aborted.k = batch_status::kind::aborted;
        f.status = aborted;
    }
}

}  // namespace aep
