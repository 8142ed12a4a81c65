// Group commit: a change (a rename into a directory, a stamp, a record written in place) is
// durable once a sync that started after it has ended: a directory fsync, or syncfs of the
// spool's file system. All callers that made changes while a sync was running share the next
// one. Keyed by "dir:<path>" or "fs:<spool root>"; takes, which sync nothing, group the same way
// under their own key (pipeline/take_stage), so that a group costs one trip to the file threads.
// Owns: the groups, their file-thread trips, the sync counters. Threading: the loop; each
// group's steps run on the file pool.
#pragma once

#include "io/file_pool.hpp"
#include "io/spool.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace aep {

class group_sync {
  public:
    // One caller's part in a group sync. `before` and `after` run on the file-I/O pool in the
    // same trip as the sync, so that a group of entries costs one hand-off, not one each.
    struct item {
        std::string file;              // the changed file, fsynced itself when few items wait
        std::function<bool()> before;  // before the sync; false: nothing of this item to sync
        std::function<void()> after;   // once the sync covered this item
        bool synced = false;           // the sync covered it (after then ran, or failed)
        bool finished = false;         // its sync has ended, one way or the other
        std::string error;             // what failed: before, the sync, or after
    };
    using sync_op = std::function<void(const std::vector<std::string>& files)>;

    group_sync(boost::asio::io_context& ioc, file_pool& files);
    ~group_sync();
    group_sync(const group_sync&) = delete;
    group_sync& operator=(const group_sync&) = delete;

    // Returns when a sync that started after the call has ended (item.synced, item.error tell
    // how it went). Callers that arrive while max_per_key syncs are under way share the next
    // one; a sync can start while another is still waiting for the disk, so that the work
    // before one group's sync overlaps the previous group's wait.
    boost::asio::awaitable<void> join(const std::string& key, item& it, sync_op op);
    // Joins the next group sync of the spool's file system (see the .cpp for how it syncs).
    boost::asio::awaitable<void> join_spool(const spool& sp, item& it);
    // Returns once `dir` has been fsynced after the call began; throws spool_error when that
    // fsync failed.
    boost::asio::awaitable<void> sync_dir(const std::string& dir);
    // Returns once `file` (a path in the spool) is on the disk, by a sync that began after the
    // call; throws spool_error when that sync failed.
    boost::asio::awaitable<void> sync_spool(const spool& sp, const std::string& file);

    int running() const { return running_; }  // syncs under way, over all keys
    std::uint64_t dir_fsyncs() const { return dir_fsyncs_; }
    std::uint64_t fs_syncs() const { return fs_syncs_; }
    void count_fs_sync() { ++fs_syncs_; }  // one made outside a group (at stop)

  private:
    struct state;
    void start(const std::string& key, state& st, const sync_op& op);
    boost::asio::awaitable<void> run(std::string key, sync_op op);

    boost::asio::io_context& ioc_;
    file_pool& files_;
    std::map<std::string, std::unique_ptr<state>> groups_;
    int running_ = 0;
    std::uint64_t dir_fsyncs_ = 0;
    std::uint64_t fs_syncs_ = 0;
};

}  // namespace aep
