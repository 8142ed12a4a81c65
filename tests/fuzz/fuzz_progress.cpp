// An entry's progress record, read back from an extended attribute any process that may write
// the file could have set. Invariant: what decodes encodes, and decodes again to the same value.
#include "aep/progress.hpp"

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto p = aep::decode_progress(text);
    if (!p) return 0;
    if (p->attempts < 0 || p->attempts > 999) std::abort();
    const auto again = aep::decode_progress(aep::encode_progress(*p));
    if (!again || *again != *p) std::abort();
    return 0;
}
