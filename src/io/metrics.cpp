#include "io/metrics.hpp"

#include <charconv>

namespace aep {

void histogram::observe(double value) {
    for (std::size_t i = 0; i < bounds_->size(); ++i) {
        if (value <= (*bounds_)[i]) ++buckets_[i];
    }
    ++buckets_[bounds_->size()];
    sum_ += value;
    ++count_;
}

std::string status_class(unsigned status) {
    if (status < 100 || status > 599) return "transport";
    if (status == 429) return "429";
    return std::to_string(status / 100) + "xx";
}

void metrics_counters::request(std::string_view kind, unsigned status, double seconds) {
    ++requests_[{std::string(kind), status_class(status)}];
    latency_[std::string(kind)].observe(seconds);
}

void metrics_counters::entry(const std::string& queue, outcome o, double seconds, double now) {
    auto& q = queues_[queue];
    ++(o == outcome::done ? q.done : q.failed);
    if (o == outcome::done) q.last_success = now;
    q.latency.observe(seconds);
}

void metrics_counters::retry(const std::string& queue) { ++queues_[queue].retries; }

void metrics_counters::uploaded(const std::string& queue, std::uint64_t bytes) {
    auto& q = queues_[queue];
    ++q.files_uploaded;
    q.bytes_uploaded += bytes;
}

void metrics_counters::upload_failed(const std::string& queue, std::uint64_t bytes) {
    auto& q = queues_[queue];
    ++q.files_failed;
    q.bytes_failed += bytes;
}

void metrics_counters::finished(const std::string& queue, const std::string& status) {
    ++queues_[queue].final_statuses[status];
}

void metrics_counters::duplicate_aborted(const std::string& queue) {
    ++queues_[queue].duplicates_aborted;
}

std::uint64_t metrics_counters::entries(const std::string& queue, outcome o) const {
    const auto it = queues_.find(queue);
    if (it == queues_.end()) return 0;
    return o == outcome::done ? it->second.done : it->second.failed;
}

std::uint64_t metrics_counters::requests(std::string_view kind, std::string_view cls) const {
    const auto it = requests_.find({std::string(kind), std::string(cls)});
    return it == requests_.end() ? 0 : it->second;
}

std::string escape_label_value(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (char c : v) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

namespace {

// The shortest text that reads back as the same double (0.025, not 0.025000000000000001).
std::string num(double v) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}
std::string num(std::uint64_t v) { return std::to_string(v); }

struct writer {
    std::string out;
    void family(const char* name, const char* type, const char* help) {
        out += "# HELP ";
        out += name;
        out += ' ';
        out += help;
        out += "\n# TYPE ";
        out += name;
        out += ' ';
        out += type;
        out += '\n';
    }
    void sample(std::string_view name, std::string_view labels, const std::string& value) {
        out += name;
        if (!labels.empty()) {
            out += '{';
            out += labels;
            out += '}';
        }
        out += ' ';
        out += value;
        out += '\n';
    }
};

std::string label(std::string_view key, std::string_view value) {
    return std::string(key) + "=\"" + escape_label_value(value) + "\"";
}

}  // namespace

namespace {

// A counter of `total` tries by result: success (total - failures) and failure.
void by_result(writer& w, const char* name, const char* help, std::uint64_t total,
               std::uint64_t failures) {
    w.family(name, "counter", help);
    w.sample(name, label("result", "success"), num(total - failures));
    w.sample(name, label("result", "failure"), num(failures));
}

// The gauges and counters read at each scrape from the other parts of the daemon.
void render_gauges(writer& w, const metrics_gauges& g) {
    w.family("aep_batchd_entries_in_flight", "gauge",
             "Entries being processed now: taken from a queue, outcome not yet recorded.");
    w.sample("aep_batchd_entries_in_flight", "", num(std::uint64_t{g.in_flight}));
    w.family("aep_batchd_pending_entries", "gauge",
             "Entries waiting in the daemon's queue (at most its pending cap; more may wait on "
             "disk), by queue.");
    for (const auto& q : g.queues) {
        w.sample("aep_batchd_pending_entries", label("queue", q.name),
                 num(std::uint64_t{q.pending}));
    }
    w.family("aep_batchd_oldest_pending_age_seconds", "gauge",
             "How long the longest-waiting pending entry has been known to the daemon; 0 when "
             "none waits.");
    for (const auto& q : g.queues) {
        w.sample("aep_batchd_oldest_pending_age_seconds", label("queue", q.name),
                 num(q.oldest_pending_age_seconds));
    }
    by_result(w, "aep_batchd_token_refreshes_total", "Access-token requests to IMS, by result.",
              g.token_requests, g.token_failures);
    w.family("aep_batchd_connections_opened_total", "counter", "TCP connections opened.");
    w.sample("aep_batchd_connections_opened_total", "", num(g.connections_opened));
    w.family("aep_batchd_tls_handshakes_total", "counter",
             "TLS handshakes completed, by whether an earlier session was resumed.");
    w.sample("aep_batchd_tls_handshakes_total", label("resumed", "false"),
             num(g.tls_handshakes - g.tls_resumed));
    w.sample("aep_batchd_tls_handshakes_total", label("resumed", "true"), num(g.tls_resumed));
    by_result(w, "aep_batchd_config_reloads_total", "Reloads (SIGHUP), by result.", g.reloads,
              g.reload_failures);
    w.family("aep_batchd_batches_tracked", "gauge",
             "Completed batches being followed to their final status.");
    w.sample("aep_batchd_batches_tracked", "", num(std::uint64_t{g.tracking}));
    w.family("aep_batchd_healthy", "gauge", "1 when /healthz answers 200, else 0.");
    w.sample("aep_batchd_healthy", "", g.healthy ? "1" : "0");
    w.family("process_start_time_seconds", "gauge", "Start time of the process (Unix time).");
    w.sample("process_start_time_seconds", "", num(g.start_time_seconds));
    w.family("process_cpu_seconds_total", "counter", "User and system CPU time spent.");
    w.sample("process_cpu_seconds_total", "", num(g.cpu_seconds));
    w.family("process_resident_memory_bytes", "gauge", "Resident memory size.");
    w.sample("process_resident_memory_bytes", "", num(g.resident_memory_bytes));
    w.family("process_virtual_memory_bytes", "gauge", "Virtual memory size.");
    w.sample("process_virtual_memory_bytes", "", num(g.virtual_memory_bytes));
    w.family("process_open_fds", "gauge", "Open file descriptors.");
    w.sample("process_open_fds", "", num(g.open_fds));
    w.family("process_max_fds", "gauge", "The open-file limit (RLIMIT_NOFILE, soft).");
    w.sample("process_max_fds", "", num(g.max_fds));
}

}  // namespace

namespace {

// A histogram's buckets, sum and count, under `labels` ("kind=\"create\"").
void render_histogram(writer& w, const std::string& name, const std::string& labels,
                      const histogram& h) {
    const auto& cum = h.cumulative();
    const auto& bounds = h.bounds();
    for (std::size_t i = 0; i <= bounds.size(); ++i) {
        const std::string le = i < bounds.size() ? num(bounds[i]) : "+Inf";
        w.sample(name + "_bucket", labels + "," + label("le", le), num(cum[i]));
    }
    w.sample(name + "_sum", labels, num(h.sum()));
    w.sample(name + "_count", labels, num(h.count()));
}

}  // namespace

std::string render_metrics(const metrics_counters& c, const metrics_gauges& g) {
    writer w;
    w.family("aep_batchd_build_info", "gauge",
             "Always 1; the version and the git revision it was built from are labels.");
    w.sample("aep_batchd_build_info", label("version", g.version) + "," +
                                          label("revision", g.revision), "1");
    // Every configured queue has its series from the start, at 0 until something happens.
    auto queues = c.queues_;
    for (const auto& q : g.queues) queues.try_emplace(q.name);
    w.family("aep_batchd_entries_total", "counter",
             "Entries finished, by queue and outcome (done: batch created; failed: recorded in "
             "failed/).");
    for (const auto& [name, q] : queues) {
        w.sample("aep_batchd_entries_total", label("queue", name) + "," + label("outcome", "done"),
                 num(q.done));
        w.sample("aep_batchd_entries_total",
                 label("queue", name) + "," + label("outcome", "failed"), num(q.failed));
    }
    w.family("aep_batchd_entry_duration_seconds", "histogram",
             "Time from an entry's claim to its record (done or failed), by queue.");
    for (const auto& [name, q] : queues) {
        render_histogram(w, "aep_batchd_entry_duration_seconds", label("queue", name), q.latency);
    }
    w.family("aep_batchd_last_success_timestamp_seconds", "gauge",
             "Unix time of the last batch created for the queue (this run); 0 when none yet.");
    for (const auto& [name, q] : queues) {
        w.sample("aep_batchd_last_success_timestamp_seconds", label("queue", name),
                 num(q.last_success));
    }
    w.family("aep_batchd_retries_total", "counter",
             "Batch creations retried after a transient failure, by queue.");
    for (const auto& [name, q] : queues) {
        w.sample("aep_batchd_retries_total", label("queue", name), num(q.retries));
    }
    w.family("aep_batchd_duplicate_batches_aborted_total", "counter",
             "Twin batches under one entry's externalId (a resend after an unknown outcome) "
             "aborted while loading, by queue.");
    for (const auto& [name, q] : queues) {
        w.sample("aep_batchd_duplicate_batches_aborted_total", label("queue", name),
                 num(q.duplicates_aborted));
    }
    w.family("aep_batchd_files_uploaded_total", "counter",
             "Data files by result (success: accepted into their batch; failure: given up on), "
             "by queue.");
    for (const auto& [name, q] : queues) {
        w.sample("aep_batchd_files_uploaded_total",
                 label("queue", name) + "," + label("result", "success"), num(q.files_uploaded));
        w.sample("aep_batchd_files_uploaded_total",
                 label("queue", name) + "," + label("result", "failure"), num(q.files_failed));
    }
    w.family("aep_batchd_uploaded_bytes_total", "counter",
             "Bytes of those data files, by result and queue.");
    for (const auto& [name, q] : queues) {
        w.sample("aep_batchd_uploaded_bytes_total",
                 label("queue", name) + "," + label("result", "success"), num(q.bytes_uploaded));
        w.sample("aep_batchd_uploaded_bytes_total",
                 label("queue", name) + "," + label("result", "failure"), num(q.bytes_failed));
    }
    w.family("aep_batchd_batches_finished_total", "counter",
             "Full entries' batches by the final status Catalog gave, by queue.");
    for (const auto& [name, q] : queues) {
        auto statuses = q.final_statuses;
        for (const char* st : {"success", "failed", "aborted", "abandoned"}) statuses.try_emplace(st, 0);
        for (const auto& [st, n] : statuses) {
            w.sample("aep_batchd_batches_finished_total",
                     label("queue", name) + "," + label("status", st), num(n));
        }
    }
    auto requests = c.requests_;
    auto latency = c.latency_;
    for (const char* kind : {"create", "lookup", "abort", "upload", "file", "complete", "status"}) {
        for (const char* cls : {"2xx", "4xx", "429", "5xx", "transport"})
            requests.try_emplace({kind, cls}, 0);
        latency.try_emplace(kind);
    }
    w.family("aep_batchd_requests_total", "counter",
             "API requests by kind (create, lookup, abort; upload: a PUT or PATCH of a file's "
             "bytes, file: a file's INITIALIZE, HEAD or COMPLETE, complete: a batch's COMPLETE, "
             "status: a status poll) and status class (2xx..5xx, 429 apart from 4xx, or "
             "transport when no answer came).");
    for (const auto& [key, n] : requests) {
        w.sample("aep_batchd_requests_total",
                 label("kind", key.first) + "," + label("class", key.second), num(n));
    }
    w.family("aep_batchd_request_duration_seconds", "histogram",
             "Time from sending an API request to its complete answer (or failure), by kind.");
    for (const auto& [kind, h] : latency) {
        render_histogram(w, "aep_batchd_request_duration_seconds", label("kind", kind), h);
    }
    render_gauges(w, g);
    return w.out;
}

}  // namespace aep
