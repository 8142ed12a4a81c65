#include "pipeline/take_stage.hpp"

#include "aep/external_id.hpp"
#include "aep/records.hpp"
#include "policy/take_decision.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace aep {

namespace asio = boost::asio;

namespace {

// What the take's trip to the file pool found.
struct taken_entry {
    enum class kind {
        writing,       // written in place and still open: look again shortly
        gone,          // taken by another process, or removed
        busy,          // processing/<name> belongs to another process
        owned,         // resumed, but a live process holds it (another daemon on this spool)
        claim_error,   // cannot claim (error): stays in incoming/
        read_error,    // cannot read (error): stays in processing/
        unreadable,    // not an entry (error): goes to failed/
        already_done,  // resumed, and done/ holds its record: leftover removed
        recorded,      // the file already holds its own complete record: filed into done/
        ready,         // send it (decision.entry has its externalId)
    } k = kind::gone;
    std::string error;
    spool::taken took;  // what the spool read, and the entry's file under its owner's lock
    take_decision decision;
    entry_progress progress;
    bool stamped = false;  // the file carries the entry's externalId
    std::string recorded;  // kind::recorded: where the record went in done/
    std::string warning;   // a problem worth a log line that did not stop the entry
};

// Claims (or, resumed, reads again) and reads the file: what spool::take and read_claimed say.
// False when the take ends there (t says why).
bool claim_and_read(const spool& sp, const std::string& name, bool resumed, taken_entry& t) {
    using kind = taken_entry::kind;
    const auto ends = [&t](kind k, std::string error) {
        t.k = k;
        t.error = std::move(error);
        return false;
    };
    spool::taken& took = t.took;
    try {
        took = resumed ? sp.resume(name, max_entry_bytes) : sp.take(name, max_entry_bytes);
    } catch (const spool_error& e) {
        return ends(resumed ? kind::read_error : kind::claim_error, e.what());
    }
    switch (took.status) {
        case spool::take_status::gone:
            return false;
        case spool::take_status::busy:
            return ends(kind::busy, {});
        case spool::take_status::owned:
            return ends(kind::owned, {});
        case spool::take_status::writing:
            return ends(kind::writing, {});
        case spool::take_status::claimed:
            break;
    }
    if (!took.read_error.empty()) return ends(kind::read_error, took.read_error);
    if (!took.read.ok) return ends(kind::unreadable, took.read.reason);
    return true;
}

// Everything between an entry's name and its first request, done on the file-I/O pool in one
// trip (each trip to the pool and back costs two thread hand-offs): the in-place-writer check,
// the claim, the read, the decision and the externalId's stamp.
taken_entry take_file(const spool& sp, const std::string& name, bool resumed,
                      const id_policy& ids) {
    using kind = taken_entry::kind;
    taken_entry t;
    if (!claim_and_read(sp, name, resumed, t)) return t;
    spool::taken& took = t.took;
    const spool::read_result& rr = took.read;
    if (rr.progress) {
        if (auto p = decode_progress(*rr.progress)) {
            t.progress = std::move(*p);
        } else {
            t.warning = "the entry's progress record is unreadable; counting its attempts anew";
        }
    }
    t.decision = decide_take({resumed, rr.content, rr.external_id, rr.identity}, ids);
    take_decision& d = t.decision;
    switch (d.k) {
        case take_decision::kind::filed:
            try {
                t.recorded = sp.file_record(name, *d.entry.external_id);
                t.k = kind::recorded;
            } catch (const spool_error& e) {
                t.k = kind::read_error;
                t.error = e.what();
            }
            return t;
        case take_decision::kind::not_an_entry:
            t.k = kind::unreadable;
            t.error = d.error;
            return t;
        case take_decision::kind::deliver:
            break;
    }
    t.k = kind::ready;
    t.stamped = d.stamped;
    if (d.first == first_request::look_up_only) return t;
    if (d.needs_stamp) {
        const bool random = d.source == id_source::random;
        if (random) d.entry.external_id = new_external_id();
        try {
            t.stamped = sp.stamp_external_id(took, name, *d.entry.external_id);
        } catch (const spool_error& e) {
            if (random) t.warning = e.what();
        }
        if (random) return t;
    }
    if (d.first == first_request::look_up_first) {
        try {
            if (done_record_matches(sp, name, *d.entry.external_id)) {
                sp.remove_claimed(name);
                t.k = kind::already_done;
            }
        } catch (const spool_error& e) {
            t.warning = std::string("cannot check done/ for a resumed entry: ") + e.what();
        }
    }
    return t;
}

// Logs what a take that ends here found, and says what comes next; nullopt when the entry is
// ready for its first request.
std::optional<take_stage::outcome> report(logger& log, const spool_queue& q,
                                          const std::string& name, const std::string& take_error,
                                          taken_entry& t) {
    using kind = taken_entry::kind;
    using out = take_stage::outcome::kind;
    if (t.k == kind::gone && !take_error.empty()) {
        log.error("cannot take entry",
                  {{"queue", q.cfg.name}, {"entry", name}, {"error", take_error}});
        return take_stage::outcome{};
    }
    if (!t.warning.empty()) log.warn(t.warning, {{"queue", q.cfg.name}, {"entry", name}});
    // What is worth a line, and what comes next.
    log_level level = log_level::info;
    const char* message = nullptr;
    const std::string* detail = nullptr;  // logged as error=, or path= for a filed record
    take_stage::outcome next;
    switch (t.k) {
        case kind::ready:
            return std::nullopt;
        case kind::gone:
            return next;
        case kind::unreadable:
            return take_stage::outcome{out::fail, std::move(t.error)};
        case kind::writing:
            level = log_level::debug;
            message = "entry is still being written; checking again shortly";
            next.k = out::recheck;
            break;
        case kind::owned:
            level = log_level::debug;
            message = "entry in processing/ belongs to another live daemon; left to it";
            break;
        case kind::busy:
            // processing/<name> belongs to another process: the entry waits in incoming/ for a
            // later scan, once that one is finished.
            level = log_level::warning;
            message = "an entry of the same name is being processed elsewhere; left in incoming/";
            break;
        case kind::claim_error:
            level = log_level::error;
            message = "cannot claim entry; it stays in incoming/";
            detail = &t.error;
            break;
        case kind::read_error:
            level = log_level::error;
            message = "cannot read claimed entry; it stays in processing/";
            detail = &t.error;
            break;
        case kind::already_done:
            message = "entry was already recorded in done/; removed its leftover";
            break;
        case kind::recorded:
            message = "entry already held its record; moved it to done/";
            detail = &t.recorded;
            break;
    }
    if (!detail) {
        log.log(level, message, {{"queue", q.cfg.name}, {"entry", name}});
    } else {
        const char* key = t.k == kind::recorded ? "path" : "error";
        log.log(level, message, {{"queue", q.cfg.name}, {"entry", name}, {key, *detail}});
    }
    return next;
}

}  // namespace

asio::awaitable<take_stage::outcome> take_stage::take(entry_job& job) {
    spool_queue& q = *job.q;
    const spool* sp = &q.sp;
    const std::string name = job.name;
    const bool resumed = job.resumed;
    job.started = std::chrono::steady_clock::now();

    // Taken (claimed, read, stamped) in one trip to the pool, shared with every entry taken
    // meanwhile. Takes group on their own, never queued behind a sync of records; an entry
    // whose externalId must be durable first joins the file system's next sync below.
    taken_entry t;
    group_sync::item taking;
    const id_policy ids{q.incoming_id, q.run.doubt_before_ns};
    taking.before = [sp, name, resumed, &ids, &t] {
        t = take_file(*sp, name, resumed, ids);
        return false;  // nothing to sync in this trip
    };
    if (alone_()) {
        // Alone (an idle daemon woken by one new entry): taken right here, a few system calls
        // on a file just written, rather than a trip to the pool and back, which costs two
        // thread wake-ups (most of the pick-up latency tests/bench measures on a small VM).
        // The loop waits for these calls; with nothing else under way, nothing waits on it
        // but timers and /metrics (a hung network file system would hold them, as it would
        // hold every other step of the daemon).
        try {
            taking.before();
        } catch (const std::exception& e) {
            taking.error = e.what();
        }
    } else {
        group_sync::sync_op no_sync = [](const std::vector<std::string>&) {};
        co_await syncs_.join(q.take_key, taking, std::move(no_sync));
    }
    job.hold = std::move(t.took.fd);  // owned until its outcome is recorded, or it is left
    t.took.read = {};
    if (t.k == taken_entry::kind::unreadable) job.entry.dataset_id = t.decision.entry.dataset_id;
    if (auto done = report(ctx_.log, q, name, taking.error, t)) co_return std::move(*done);
    job.entry = std::move(t.decision.entry);
    job.first = t.decision.first;
    job.place = t.stamped ? record_place::in_place : record_place::separate;
    job.unparsed = std::move(t.decision.unparsed);
    // Counted from the first claim, by whichever run made it.
    job.progress = std::move(t.progress);
    job.attempts = job.progress.attempts;
    const auto now_ms = unix_ms();
    if (!job.progress.claimed_ms) job.progress.claimed_ms = now_ms;
    job.started -= std::chrono::milliseconds(
        std::max<std::int64_t>(0, now_ms - *job.progress.claimed_ms));
    // A derived externalId needs no sync before the first send, as it is derived again, once
    // this run's marker is on the disk (the first entries wait for it here, while it is being
    // written).
    id_durability durability = decide_durability(t.decision, t.stamped);
    if (durability == id_durability::after_marker) {
        while (q.marking) {
            co_await q.marking_done->async_wait(asio::as_tuple(asio::use_awaitable));
        }
        durability = settle_after_marker(q.run.marked, t.stamped);
    }
    if (durability != id_durability::none &&
        !co_await make_id_durable(job, durability == id_durability::write_entry)) {
        co_return outcome{};  // stopping: it stays in processing/
    }
    co_return outcome{outcome::kind::create, {}};
}

// The externalId is on the disk before the first request: the stamp by the spool's next group
// sync, or, unstamped (a file system without user extended attributes), the entry rewritten
// with the id in its JSON and processing/ synced. False when the daemon stops first.
asio::awaitable<bool> take_stage::make_id_durable(entry_job& job, bool rewrite) {
    spool_queue& q = *job.q;
    const spool* sp = &q.sp;
    const std::string name = job.name;
    const std::string content = rewrite ? serialize_entry(job.entry) : std::string();
    const auto write = [sp, name, content] {
        return sp->rewrite_claimed(name, content, spool::sync_mode::by_caller);
    };
    const std::string claimed_path = sp->path("processing", name);
    const auto attempt = [&]() -> asio::awaitable<void> {
        if (rewrite) {
            job.hold = co_await ctx_.files.run(write);  // the new file, under the owner's lock
            const std::string dir = sp->path("processing", "");
            co_await syncs_.sync_dir(dir);
        } else {
            co_await syncs_.sync_spool(*sp, claimed_path);
        }
    };
    const auto complain = [&](const std::string& error) {
        ctx_.log.error("cannot persist the entry's externalId; retrying",
                       {{"queue", q.cfg.name}, {"entry", name}, {"error", error}});
    };
    co_return co_await until_durable(ctx_.run, attempt, complain);
}

}  // namespace aep
