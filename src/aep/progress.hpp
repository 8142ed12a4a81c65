// How far an entry got, kept with the entry on disk (in the value of its externalId stamp,
// io/spool.hpp) and written before each create is sent: what a restart, a crash or another
// daemon needs to go on counting instead of starting again.
// Owns: the record's fields and its encoding: a few decimal numbers, so that the stamp and its
// progress fit in the inode itself (ext4's 256-byte inodes keep about 90 bytes of extended
// attributes in place; beyond that each entry would cost a block of its own).
// Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aep {

struct entry_progress {
    int attempts = 0;                        // creates sent for the entry, over every run
    std::optional<std::int64_t> claimed_ms;  // its first claim (retry.max_age), whole seconds
    std::optional<std::int64_t> sent_ms;     // when the last of those creates was sent, seconds
    // How the create before the last one ended: its HTTP status, 0 for no answer.
    std::optional<unsigned> last_status;

    bool operator==(const entry_progress&) const = default;
};

// "ATTEMPTS CLAIMED SENT [STATUS]", times in Unix seconds: "3 1796135700 1796135704 503".
std::string encode_progress(const entry_progress& p);
// nullopt when `text` is not a progress record (garbled, foreign, or empty).
std::optional<entry_progress> decode_progress(std::string_view text);

// How far a full entry (one with files) got after its batch was created: the batch (never
// created again), the files the API accepted, and when the batch's COMPLETE was accepted. Kept
// in an attribute of its own (a full entry's record outgrows the inode anyway).
struct full_progress {
    std::string batch_id;
    std::vector<bool> uploaded;              // by the entry's file index
    std::optional<std::int64_t> completed_ms;  // Unix ms: tracking from then

    bool operator==(const full_progress&) const = default;
};
// "<batch id> <completed ms or -> <files: a hex bitmap, file 0 in the lowest bit of the first
// digit>": "01JBATCH 1796135700123 f3".
std::string encode_full_progress(const full_progress& p);
// nullopt when garbled; `files` is the entry's file count (a bitmap of another length is
// foreign).
std::optional<full_progress> decode_full_progress(std::string_view text, std::size_t files);

}  // namespace aep
