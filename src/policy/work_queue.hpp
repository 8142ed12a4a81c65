// Which entry a free worker takes next, across all queues.
// Owns: the names waiting in each queue (seen in incoming/, or left in processing/ by an
// earlier run), de-duplication, round-robin fairness, and names deferred because an entry of
// the same name is still in flight. Does not own: files or timing. Pure; single-threaded.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

namespace aep {

struct work_item {
    std::size_t queue = 0;
    std::string name;
    bool resumed = false;  // left in processing/ by an earlier run: already claimed
    std::chrono::steady_clock::time_point seen{};  // when its name was first seen
};

class work_queue {
  public:
    using time_point = std::chrono::steady_clock::time_point;

    // At most `max_pending` incoming names are held per queue, so memory does not grow with the
    // backlog: names beyond it stay on disk and are listed again once the queue has drained to
    // half (see needs_refill).
    explicit work_queue(std::size_t queues, std::size_t max_pending = 10000)
        : queues_(queues), max_pending_(max_pending) {}

    // A name seen in incoming/. Returns true when it became pending (false: already pending,
    // hidden, deferred behind an in-flight twin, or the queue is full).
    // `seen` is when the name was first seen (for oldest_seen).
    bool add_incoming(std::size_t queue, const std::string& name, time_point seen = {});

    // A name read from a listing of incoming/. Like add_incoming, except for a name in flight:
    // a listing most likely read it before that entry's claim moved it away, so it is not
    // deferred (taking it again would only find it gone). Once that entry finishes, the queue
    // asks for another listing instead (see needs_refill), which finds a real twin if one came.
    bool add_listed(std::size_t queue, const std::string& name, time_point seen = {});

    // A queue added by a reload; returns its index (indices are never reused).
    std::size_t add_queue();
    // A queue removed by a reload: its pending names are forgotten (they stay on disk) and no
    // new ones are taken; items in flight finish normally. revive() undoes it.
    void retire(std::size_t queue);
    void revive(std::size_t queue);
    bool retired(std::size_t queue) const { return queues_.at(queue).retired; }
    std::size_t queues() const { return queues_.size(); }

    // When the longest-waiting pending name of the queue was seen; nullopt when none waits.
    std::optional<time_point> oldest_seen(std::size_t queue) const;

    // True when names were turned away because the queue was full and it has drained to half:
    // the caller lists incoming/ again, then calls refilled().
    bool needs_refill(std::size_t queue) const;
    // A listing of incoming/ begins: returns what refilled() is to be given when it ends.
    std::uint64_t listing_started(std::size_t queue) const { return queues_.at(queue).relist_gen; }
    // A listing of incoming/ ended; `complete` when it saw every name (none turned away since);
    // `started` is what listing_started returned before it.
    void refilled(std::size_t queue, bool complete, std::uint64_t started = 0);
    bool overflowed(std::size_t queue) const { return queues_.at(queue).overflow; }
    std::size_t max_pending() const { return max_pending_; }
    // A name found in processing/ at start (already claimed by an earlier run).
    bool add_resumed(std::size_t queue, const std::string& name, time_point seen = {});

    // The next item, resumed entries first within a queue, queues in turn. The item counts as
    // in flight until finish() is called with it.
    std::optional<work_item> take();

    // Ends an in-flight item. When a twin of the same name arrived meanwhile it becomes pending
    // again; returns true in that case.
    bool finish(const work_item& item);

    std::size_t pending() const;
    std::size_t pending(std::size_t queue) const;
    std::size_t in_flight() const { return in_flight_count_; }
    // Nothing pending, nothing in flight, and nothing left on disk that was turned away.
    bool idle() const;

  private:
    struct pending_name {
        std::string name;
        time_point seen;
    };
    struct per_queue {
        std::deque<pending_name> incoming;
        std::unordered_set<std::string> incoming_set;
        std::deque<pending_name> resumed;
        std::unordered_set<std::string> in_flight;
        std::unordered_set<std::string> deferred;
        std::unordered_set<std::string> listed_in_flight;  // see add_listed
        bool relist = false;           // such an entry finished: list incoming/ again
        std::uint64_t relist_gen = 0;  // counts those finishes
        bool overflow = false;         // names were turned away: incoming/ holds more than we list
        bool retired = false;
    };
    std::vector<per_queue> queues_;
    std::size_t max_pending_;
    std::size_t next_ = 0;
    std::size_t in_flight_count_ = 0;
};

}  // namespace aep
