// An entry's progress record, read back from an extended attribute any process that may write
// the file could have set. Invariant: what decodes encodes, and decodes again to the same value.
#include "aep/progress.hpp"

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    // A full entry's progress, for any file count the text could hold.
    for (std::size_t files : {std::size_t{1}, std::size_t{5}, size % 1501}) {
        if (const auto f = aep::decode_full_progress(text, files)) {
            if (f->uploaded.size() != files) std::abort();
            if (aep::decode_full_progress(aep::encode_full_progress(*f), files) != f) std::abort();
        }
    }
    const auto p = aep::decode_progress(text);
    if (!p) return 0;
    if (p->attempts < 0 || p->attempts > 999) std::abort();
    const auto again = aep::decode_progress(aep::encode_progress(*p));
    if (!again || *again != *p) std::abort();
    return 0;
}
