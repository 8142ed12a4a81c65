// Spool entry parsing: any bytes a writer drops. Invariant: an accepted entry round-trips.
#include "aep/entry.hpp"

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto parsed = aep::parse_entry(text);
    if (!parsed.value) {
        if (parsed.error.empty()) std::abort();  // every refusal has a reason
        return 0;
    }
    const auto again = aep::parse_entry(aep::serialize_entry(*parsed.value));
    if (!again.value || again.value->dataset_id != parsed.value->dataset_id ||
        again.value->external_id != parsed.value->external_id) {
        std::abort();
    }
    return 0;
}
