// How far an entry got, kept with the entry on disk (an extended attribute beside its
// externalId stamp, io/spool.hpp) and written before each create is sent: what a restart, a
// crash or another daemon needs to go on counting instead of starting again.
// Owns: the record's fields and its encoding. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace aep {

struct entry_progress {
    int attempts = 0;                        // creates sent for the entry, over every run
    std::optional<std::int64_t> claimed_ms;  // Unix time of its first claim (retry.max_age)
    std::optional<std::int64_t> sent_ms;     // when the last of those creates was sent
    std::string last_error;                  // why the create before that one failed
    std::string batch_id;                    // the created batch, once known

    bool operator==(const entry_progress&) const = default;
};

// One line of compact JSON, {"v":1,...}; at most about 1 KiB (last_error is cut to 512 bytes).
std::string encode_progress(const entry_progress& p);
// nullopt when `text` is not a progress record of this version (garbled, foreign, or empty).
std::optional<entry_progress> decode_progress(std::string_view text);

}  // namespace aep
