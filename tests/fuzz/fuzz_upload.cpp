// What a server says about a large file's upload (HEAD's Range header) and a batch's status
// (Catalog's answer): both from outside. Invariants: ranges read are sorted, merged and
// inclusive; the next part computed from them never overlaps them, stays within the file and
// within a part; stepping with it reaches the end; a status answer never crashes the reader.
#include "aep/upload_api.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    (void)aep::parse_batch_status(200, text, "B1");
    const auto ranges = aep::parse_received_ranges(text);
    if (!ranges) return 0;
    for (std::size_t i = 0; i < ranges->size(); ++i) {
        const auto& [a, b] = (*ranges)[i];
        if (b < a) std::abort();
        if (i > 0 && a <= (*ranges)[i - 1].second + 1) std::abort();  // merged
    }
    const std::uint64_t total = 1 + (size * 7919) % 100000, part = 1 + (size * 31) % 5000;
    aep::byte_ranges got;
    for (const auto& r : *ranges) {
        if (r.first < total) got.emplace_back(r.first, std::min(r.second, total - 1));
    }
    for (int steps = 0; steps < 100000; ++steps) {
        const auto p = aep::next_part(got, total, part);
        if (!p) return 0;
        if (p->second < p->first || p->second >= total || p->second - p->first + 1 > part)
            std::abort();
        for (const auto& [a, b] : got) {
            if (p->first <= b && a <= p->second) std::abort();  // overlaps a received range
        }
        got.emplace_back(*p);
        std::sort(got.begin(), got.end());
        aep::byte_ranges merged;
        for (const auto& r : got) {
            if (!merged.empty() && r.first <= merged.back().second + 1) {
                merged.back().second = std::max(merged.back().second, r.second);
            } else {
                merged.push_back(r);
            }
        }
        got = merged;
    }
    std::abort();  // never reached the end
}
