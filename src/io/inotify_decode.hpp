// The byte stream of an inotify descriptor, decoded into events. Pure: no descriptor here, so
// unit tests and the fuzzer feed it any bytes.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace aep {

struct fs_event {
    int watch = -1;  // the value add_watch returned
    std::uint32_t mask = 0;
    std::string name;  // entry name inside the watched directory ("" for directory events)
};

struct decoded_events {
    std::vector<fs_event> events;
    bool overflow = false;     // the kernel dropped events: rescan every watched directory
    std::size_t consumed = 0;  // bytes decoded; a partial trailing record is left unconsumed
};

// Decodes a buffer of struct inotify_event records. Never reads past `bytes`.
decoded_events decode_inotify(std::span<const char> bytes);

}  // namespace aep
