// aep-spool-floor SPOOL: what the spool's file system alone costs per entry. Runs every file
// step the daemon takes for an entry that succeeds (take: the writer check, the claim and the
// read; the externalId stamp; the record written in place; a group sync every 64 records; the
// move into done/), with the daemon's own spool code, on one thread, with no requests, for every
// entry in SPOOL/incoming/. Prints one JSON line: entries, seconds, CPU seconds (user, system).
// tests/bench/run sets it beside the daemon's figures: a floor no request pipeline can go under
// on that file system. Not a test; exits 1 when an entry does not go through.

#include "aep/external_id.hpp"
#include "io/spool.hpp"

#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <sys/resource.h>
#include <vector>

namespace {

double seconds(const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; }

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: aep-spool-floor SPOOL\n");
        return 64;
    }
    try {
        const aep::spool sp(argv[1]);
        sp.ensure_layout(aep::daemon_spool_owner());
        const auto dir_id = sp.incoming_identity();
        const auto names = sp.list("incoming");
        // A record of the size the daemon writes for the benchmark's 201 (about 750 bytes).
        const std::string filler(640, 'x');
        rusage before{};
        ::getrusage(RUSAGE_SELF, &before);
        const auto t0 = std::chrono::steady_clock::now();
        std::vector<std::string> unsynced;  // records written, to be synced and then filed
        const auto file_all = [&] {
            if (unsynced.empty()) return;
            sp.sync_file_system();
            for (const auto& n : unsynced) sp.file_record(n, "floor");
            unsynced.clear();
        };
        for (const auto& name : names) {
            auto t = sp.take(name, 64 * 1024);
            if (t.status != aep::spool::take_status::claimed || !t.read.ok) {
                std::fprintf(stderr, "aep-spool-floor: %s was not taken (status %d, %s%s)\n",
                             name.c_str(), static_cast<int>(t.status), t.read.reason.c_str(),
                             t.read_error.c_str());
                return 1;
            }
            const std::string id = dir_id && t.read.identity
                                       ? aep::derive_external_id(*dir_id, *t.read.identity)
                                       : "aepb-floor-" + name;
            if (!sp.stamp_external_id(t, name, id)) {
                std::fprintf(stderr, "aep-spool-floor: %s takes no stamp\n", argv[1]);
                return 1;
            }
            const std::string record = "{\"entry\":\"" + name + "\",\"externalId\":\"" + id +
                                       "\",\"response\":\"" + filler + "\"}\n";
            if (!sp.write_record_in_place(name, record)) {
                std::fprintf(stderr, "aep-spool-floor: cannot write %s in place\n", name.c_str());
                return 1;
            }
            unsynced.push_back(name);
            if (unsynced.size() == 64) file_all();
        }
        file_all();
        sp.sync_file_system();  // the moves into done/ too, as the daemon's stop does
        const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - t0;
        rusage after{};
        ::getrusage(RUSAGE_SELF, &after);
        std::printf("{\"entries\": %zu, \"elapsed_s\": %.6f, \"user_s\": %.6f, \"sys_s\": %.6f}\n",
                    names.size(), elapsed.count(),
                    seconds(after.ru_utime) - seconds(before.ru_utime),
                    seconds(after.ru_stime) - seconds(before.ru_stime));
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "aep-spool-floor: %s\n", e.what());
        return 1;
    }
}
