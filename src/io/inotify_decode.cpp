#include "io/inotify_decode.hpp"

#include <cstring>
#include <sys/inotify.h>

namespace aep {

decoded_events decode_inotify(std::span<const char> bytes) {
    decoded_events out;
    std::size_t off = 0;
    while (bytes.size() - off >= sizeof(inotify_event)) {
        inotify_event ev;
        std::memcpy(&ev, bytes.data() + off, sizeof ev);  // buffer may be unaligned
        const std::size_t total = sizeof(inotify_event) + ev.len;
        if (bytes.size() - off < total) break;
        if (ev.mask & IN_Q_OVERFLOW) out.overflow = true;
        fs_event fe;
        fe.watch = ev.wd;
        fe.mask = ev.mask;
        if (ev.len > 0) {
            const char* name = bytes.data() + off + sizeof(inotify_event);
            fe.name.assign(name, strnlen(name, ev.len));  // the kernel NUL-pads names
        }
        out.events.push_back(std::move(fe));
        off += total;
    }
    out.consumed = off;
    return out;
}

}  // namespace aep
