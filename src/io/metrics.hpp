// What /metrics reports, in the Prometheus text exposition format (version 0.0.4).
// Owns: the counters the daemon bumps as things happen, the latency histogram, and rendering
// them together with gauges read at scrape time. Pure: no clock, no I/O; loop thread only.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace aep {

// Bucket bounds (seconds): of one API request, and of an entry from its claim to its record.
inline const std::vector<double> request_buckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                    1,     2.5,  5,     10,   30,  60};
inline const std::vector<double> entry_buckets = {0.01, 0.05, 0.1, 0.25, 0.5, 1,    2.5, 5,
                                                  10,   30,   60,  300,  900, 3600, 14400};

// A cumulative histogram with fixed bucket bounds (seconds).
class histogram {
  public:
    explicit histogram(const std::vector<double>& bounds = request_buckets)
        : bounds_(&bounds), buckets_(bounds.size() + 1, 0) {}
    void observe(double value);
    const std::vector<double>& bounds() const { return *bounds_; }
    std::uint64_t count() const { return count_; }
    double sum() const { return sum_; }
    // Observations <= bounds()[i] (i < bounds().size()); the last element counts all (+Inf).
    const std::vector<std::uint64_t>& cumulative() const { return buckets_; }

  private:
    const std::vector<double>* bounds_;
    std::vector<std::uint64_t> buckets_;
    double sum_ = 0;
    std::uint64_t count_ = 0;
};

struct metrics_gauges;

// HTTP status class of an answer ("2xx".."5xx", and "429" apart: the org-wide slow-down), or
// "transport" when none came.
std::string status_class(unsigned status);

class metrics_counters {
  public:
    enum class outcome { done, failed };
    // A request to the API: kind is "create", "lookup" or "abort"; status 0 when no answer came.
    void request(std::string_view kind, unsigned status, double seconds);
    // An entry recorded, `seconds` after its claim, at Unix time `now`.
    void entry(const std::string& queue, outcome o, double seconds, double now);
    void retry(const std::string& queue);
    void duplicate_aborted(const std::string& queue);
    void uploaded(const std::string& queue, std::uint64_t bytes);  // a file accepted
    void upload_failed(const std::string& queue, std::uint64_t bytes);  // a file given up on
    void finished(const std::string& queue, const std::string& status);  // a final status

    std::uint64_t entries(const std::string& queue, outcome o) const;
    std::uint64_t requests(std::string_view kind, std::string_view cls) const;

  private:
    friend std::string render_metrics(const metrics_counters&, const metrics_gauges&);
    struct per_queue {
        std::uint64_t done = 0, failed = 0, retries = 0, duplicates_aborted = 0;
        double last_success = 0;  // Unix time of its last done entry; 0 before
        std::uint64_t files_uploaded = 0, bytes_uploaded = 0;
        std::uint64_t files_failed = 0, bytes_failed = 0;
        std::map<std::string, std::uint64_t> final_statuses;  // a full entry's batch, by status
        histogram latency{entry_buckets};
    };
    std::map<std::string, per_queue> queues_;  // by queue name; kept after a queue is removed
    std::map<std::pair<std::string, std::string>, std::uint64_t> requests_;  // (kind, class)
    std::map<std::string, histogram> latency_;                               // by kind
};

// Values read at scrape time.
struct metrics_gauges {
    struct queue {
        std::string name;
        std::size_t pending = 0;
        double oldest_pending_age_seconds = 0;  // 0 when nothing is pending
    };
    std::vector<queue> queues;  // the queues configured now
    std::size_t in_flight = 0;
    std::uint64_t token_requests = 0, token_failures = 0;
    std::uint64_t connections_opened = 0, tls_handshakes = 0, tls_resumed = 0;
    bool healthy = true;
    std::uint64_t reloads = 0, reload_failures = 0;
    std::size_t tracking = 0;  // completed batches followed to their final status
    // Process metrics (the names Prometheus client libraries use).
    double start_time_seconds = 0;
    double cpu_seconds = 0;
    std::uint64_t resident_memory_bytes = 0;
    std::uint64_t virtual_memory_bytes = 0;
    std::uint64_t open_fds = 0, max_fds = 0;
    std::string version, revision;
};

std::string render_metrics(const metrics_counters& c, const metrics_gauges& g);

// A label value as the exposition format wants it: \\, \" and \n escaped.
std::string escape_label_value(std::string_view v);

}  // namespace aep
