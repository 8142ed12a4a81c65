#include "aep/progress.hpp"

#include <charconv>
#include <vector>

namespace aep {

namespace {
constexpr std::int64_t max_attempts_kept = 999;
}  // namespace

std::string encode_progress(const entry_progress& p) {
    std::string out = std::to_string(p.attempts);
    out += ' ';
    out += std::to_string(p.claimed_ms.value_or(0) / 1000);
    out += ' ';
    out += std::to_string(p.sent_ms.value_or(0) / 1000);
    if (p.last_status) {
        out += ' ';
        out += std::to_string(*p.last_status);
    }
    return out;
}

std::optional<entry_progress> decode_progress(std::string_view text) {
    std::vector<std::int64_t> n;
    while (!text.empty()) {
        const auto sp = text.find(' ');
        const auto field = text.substr(0, sp);
        std::int64_t v = 0;
        const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
        if (ec != std::errc() || end != field.data() + field.size() || field.empty() || v < 0)
            return std::nullopt;
        n.push_back(v);
        if (sp == std::string_view::npos) break;
        text.remove_prefix(sp + 1);
        if (text.empty()) return std::nullopt;  // a trailing space
    }
    if (n.size() < 3 || n.size() > 4 || n[0] > max_attempts_kept) return std::nullopt;
    if (n[1] > INT64_MAX / 1000 || n[2] > INT64_MAX / 1000 || (n.size() == 4 && n[3] > 999))
        return std::nullopt;
    entry_progress p;
    p.attempts = static_cast<int>(n[0]);
    if (n[1] > 0) p.claimed_ms = n[1] * 1000;
    if (n[2] > 0) p.sent_ms = n[2] * 1000;
    if (n.size() == 4) p.last_status = static_cast<unsigned>(n[3]);
    return p;
}

}  // namespace aep
