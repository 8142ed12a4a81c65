// An entry's progress record, read back from an extended attribute any process that may write
// the file could have set. Invariant: what decodes, encodes and decodes to the same value.
#include "aep/progress.hpp"

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto p = aep::decode_progress(text);
    if (!p) return 0;
    if (p->attempts < 0) std::abort();
    auto kept = *p;
    if (kept.last_error.size() > 512) kept.last_error.resize(512);
    const auto again = aep::decode_progress(aep::encode_progress(kept));
    if (!again || again->attempts != p->attempts || again->claimed_ms != p->claimed_ms ||
        again->sent_ms != p->sent_ms) {
        std::abort();
    }
    return 0;
}
