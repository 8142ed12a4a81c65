#include "work_queue.hpp"

namespace aep {

bool work_queue::add_incoming(std::size_t queue, const std::string& name) {
    if (name.empty() || name.front() == '.' || queue >= queues_.size()) return false;
    auto& q = queues_[queue];
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
    q.incoming.push_back(name);
    return true;
}

bool work_queue::needs_refill(std::size_t queue) const {
    const auto& q = queues_.at(queue);
    return q.overflow && q.incoming.size() <= max_pending_ / 2;
}

void work_queue::refilled(std::size_t queue, bool complete) {
    auto& q = queues_.at(queue);
    if (complete && q.incoming.size() < max_pending_) q.overflow = false;
}

bool work_queue::idle() const {
    if (pending() != 0 || in_flight_count_ != 0) return false;
    for (const auto& q : queues_) {
        if (q.overflow) return false;
    }
    return true;
}

bool work_queue::add_resumed(std::size_t queue, const std::string& name) {
    if (name.empty() || name.front() == '.' || queue >= queues_.size()) return false;
    auto& q = queues_[queue];
    if (q.in_flight.count(name)) return false;
    q.resumed.push_back(name);
    return true;
}

std::optional<work_item> work_queue::take() {
    const std::size_t n = queues_.size();
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t idx = (next_ + i) % n;
        auto& q = queues_[idx];
        work_item item;
        item.queue = idx;
        if (!q.resumed.empty()) {
            item.name = std::move(q.resumed.front());
            q.resumed.pop_front();
            item.resumed = true;
        } else {
            // An incoming name whose twin is in flight waits for it (claiming would find
            // processing/<name> taken).
            while (!q.incoming.empty() && q.in_flight.count(q.incoming.front())) {
                q.deferred.insert(q.incoming.front());
                q.incoming_set.erase(q.incoming.front());
                q.incoming.pop_front();
            }
            if (q.incoming.empty()) continue;
            item.name = std::move(q.incoming.front());
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
    if (q.deferred.erase(item.name)) return add_incoming(item.queue, item.name);
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
