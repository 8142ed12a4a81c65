#include "io/group_sync.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace aep {

namespace asio = boost::asio;

namespace {
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
// Up to this many files waiting for one sync are fsynced one by one; more take one syncfs.
constexpr std::size_t few_files_to_sync = 4;
// Syncs of one spool (or directory) under way at once; more callers wait and share the next.
constexpr int max_per_key = 2;
}  // namespace

struct group_sync::state {
    explicit state(asio::io_context& ioc) : ioc(ioc) { next_done = fresh_signal(); }
    std::shared_ptr<asio::steady_timer> fresh_signal() const {
        auto t = std::make_shared<asio::steady_timer>(ioc);
        t->expires_at(std::chrono::steady_clock::time_point::max());
        return t;
    }
    asio::io_context& ioc;
    int running = 0;             // syncs under way (at most max_per_key)
    std::vector<item*> pending;  // callers waiting for a sync to start
    // The pending callers sleep here; their sync wakes them, and only them (waking every
    // waiter at each sync's end had cost a wake-up per waiting record, up to 16 per request
    // slot, for each sync: CPU per entry grew with http.concurrency).
    std::shared_ptr<asio::steady_timer> next_done;
};

group_sync::group_sync(asio::io_context& ioc, file_pool& files) : ioc_(ioc), files_(files) {}
group_sync::~group_sync() = default;

asio::awaitable<void> group_sync::sync_dir(const std::string& dir) {
    const std::string key = "dir:" + dir;
    sync_op op = [dir](const std::vector<std::string>&) { fsync_directory(dir); };
    item it;
    co_await join(key, it, std::move(op));
    if (!it.error.empty()) throw spool_error(it.error);
}

asio::awaitable<void> group_sync::sync_spool(const spool& sp, const std::string& file) {
    item it;
    it.file = file;
    co_await join_spool(sp, it);
    if (!it.error.empty()) throw spool_error(it.error);
}

// An fsync of each file when only a few wait, else one syncfs, which writes everything on that
// file system not yet on the disk with a single flush. (syncfs alone would make the first entry
// after start wait for whatever else is unwritten there, such as a backlog just created.)
asio::awaitable<void> group_sync::join_spool(const spool& sp, item& it) {
    const std::string key = "fs:" + sp.root();
    const spool* p = &sp;
    sync_op op = [p](const std::vector<std::string>& files) {
        if (files.size() > few_files_to_sync) {
            p->sync_file_system();
            return;
        }
        for (const auto& f : files) sync_file(f);
    };
    co_await join(key, it, std::move(op));
}

asio::awaitable<void> group_sync::join(const std::string& key, item& it, sync_op op) {
    auto& slot = groups_[key];
    if (!slot) slot = std::make_unique<state>(ioc_);
    state& st = *slot;
    st.pending.push_back(&it);
    const std::shared_ptr<asio::steady_timer> done = st.next_done;
    if (st.running < max_per_key) start(key, st, op);
    while (!it.finished) co_await done->async_wait(nothrow);
}

void group_sync::start(const std::string& key, state& st, const sync_op& op) {
    ++st.running;
    ++running_;
    asio::co_spawn(ioc_, run(key, op), asio::detached);
}

asio::awaitable<void> group_sync::run(std::string key, sync_op op) {
    state& st = *groups_.at(key);
    // Everything that joined before this sync starts; it begins after each of their changes.
    std::vector<item*> items = std::move(st.pending);
    st.pending.clear();
    const std::shared_ptr<asio::steady_timer> done = std::move(st.next_done);
    st.next_done = st.fresh_signal();
    bool synced = false;
    const auto group = [&op, &items, &synced] {
        std::vector<item*> in;
        std::vector<std::string> files;
        for (auto* it : items) {
            try {
                if (it->before && !it->before()) continue;
            } catch (const std::exception& e) {
                it->error = e.what();
                continue;
            }
            in.push_back(it);
            if (!it->file.empty()) files.push_back(it->file);
        }
        if (in.empty()) return true;
        try {
            op(files);
            synced = true;
        } catch (const std::exception& e) {
            for (auto* it : in) it->error = e.what();
            return true;
        }
        for (auto* it : in) {
            it->synced = true;
            try {
                if (it->after) it->after();
            } catch (const std::exception& e) {
                it->error = e.what();
            }
        }
        return true;
    };
    try {
        co_await files_.run(group);
    } catch (const std::exception& e) {  // not expected: each step catches its own
        for (auto* it : items) it->error = e.what();
    }
    if (synced) ++(key.starts_with("fs:") ? fs_syncs_ : dir_fsyncs_);
    for (auto* it : items) it->finished = true;
    --st.running;
    --running_;
    if (!st.pending.empty()) start(key, st, op);
    done->cancel();
}

}  // namespace aep
