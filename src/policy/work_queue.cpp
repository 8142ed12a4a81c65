#include "policy/work_queue.hpp"

namespace aep {

bool work_queue::add_incoming(std::size_t queue, const std::string& name, time_point seen) {
    if (name.empty() || name.front() == '.' || queue >= queues_.size()) return false;
    auto& q = queues_[queue];
    if (q.retired) return false;
    if (q.in_flight.count(name)) {
        q.deferred.insert(name);
        return false;
    }
    if (q.incoming_set.count(name)) return false;
    if (q.incoming.size() >= max_pending_) {
        q.overflow = true;
        return false;
    }
    q.incoming_set.insert(name);
    q.incoming.push_back({name, seen});
    return true;
}

bool work_queue::add_listed(std::size_t queue, const std::string& name, time_point seen) {
    if (queue < queues_.size() && !queues_[queue].retired && queues_[queue].in_flight.count(name)) {
        queues_[queue].listed_in_flight.insert(name);
        return false;
    }
    return add_incoming(queue, name, seen);
}

std::size_t work_queue::add_queue() {
    queues_.emplace_back();
    return queues_.size() - 1;
}

void work_queue::retire(std::size_t queue) {
    auto& q = queues_.at(queue);
    q.retired = true;
    q.incoming.clear();
    q.incoming_set.clear();
    q.resumed.clear();
    q.deferred.clear();
    q.listed_in_flight.clear();
    q.relist = false;
    q.overflow = false;
}

void work_queue::revive(std::size_t queue) { queues_.at(queue).retired = false; }

std::optional<work_queue::time_point> work_queue::oldest_seen(std::size_t queue) const {
    const auto& q = queues_.at(queue);
    std::optional<time_point> out;
    if (!q.incoming.empty()) out = q.incoming.front().seen;
    if (!q.resumed.empty() && (!out || q.resumed.front().seen < *out)) out = q.resumed.front().seen;
    return out;
}

bool work_queue::needs_refill(std::size_t queue) const {
    const auto& q = queues_.at(queue);
    return !q.retired && (q.overflow || q.relist) && q.incoming.size() <= max_pending_ / 2;
}

void work_queue::refilled(std::size_t queue, bool complete, std::uint64_t started) {
    auto& q = queues_.at(queue);
    if (complete && q.incoming.size() < max_pending_) q.overflow = false;
    // Only a listing that began after the last such finish saw what it left behind.
    if (q.relist && started == q.relist_gen) q.relist = false;
}

bool work_queue::idle() const {
    if (pending() != 0 || in_flight_count_ != 0) return false;
    for (const auto& q : queues_) {
        if (q.overflow || q.relist) return false;
    }
    return true;
}

bool work_queue::add_resumed(std::size_t queue, const std::string& name, time_point seen) {
    if (name.empty() || name.front() == '.' || queue >= queues_.size()) return false;
    auto& q = queues_[queue];
    if (q.retired || q.in_flight.count(name)) return false;
    for (const auto& r : q.resumed) {
        if (r.name == name) return false;
    }
    q.resumed.push_back({name, seen});
    return true;
}

std::optional<work_item> work_queue::take() {
    const std::size_t n = queues_.size();
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t idx = (next_ + i) % n;
        auto& q = queues_[idx];
        work_item item;
        item.queue = idx;
        if (q.retired) continue;
        if (!q.resumed.empty()) {
            item.name = std::move(q.resumed.front().name);
            item.seen = q.resumed.front().seen;
            q.resumed.pop_front();
            item.resumed = true;
        } else {
            // An incoming name whose twin is in flight waits for it (claiming would find
            // processing/<name> taken).
            while (!q.incoming.empty() && q.in_flight.count(q.incoming.front().name)) {
                q.deferred.insert(q.incoming.front().name);
                q.incoming_set.erase(q.incoming.front().name);
                q.incoming.pop_front();
            }
            if (q.incoming.empty()) continue;
            item.name = std::move(q.incoming.front().name);
            item.seen = q.incoming.front().seen;
            q.incoming.pop_front();
            q.incoming_set.erase(item.name);
        }
        next_ = (idx + 1) % n;
        q.in_flight.insert(item.name);
        ++in_flight_count_;
        return item;
    }
    return std::nullopt;
}

bool work_queue::finish(const work_item& item) {
    auto& q = queues_.at(item.queue);
    if (q.in_flight.erase(item.name)) --in_flight_count_;
    if (q.listed_in_flight.erase(item.name)) {
        q.relist = true;
        ++q.relist_gen;
    }
    if (q.deferred.erase(item.name)) return add_incoming(item.queue, item.name, item.seen);
    return false;
}

std::size_t work_queue::pending() const {
    std::size_t total = 0;
    for (const auto& q : queues_) total += q.incoming.size() + q.resumed.size();
    return total;
}

std::size_t work_queue::pending(std::size_t queue) const {
    const auto& q = queues_.at(queue);
    return q.incoming.size() + q.resumed.size();
}

}  // namespace aep
