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

std::string encode_full_progress(const full_progress& p) {
    std::string out = p.batch_id;
    out += ' ';
    out += p.completed_ms ? std::to_string(*p.completed_ms) : "-";
    out += ' ';
    static constexpr char digits[] = "0123456789abcdef";
    for (std::size_t i = 0; i < p.uploaded.size(); i += 4) {
        unsigned d = 0;
        for (std::size_t b = 0; b < 4 && i + b < p.uploaded.size(); ++b)
            d |= p.uploaded[i + b] ? 1u << b : 0u;
        out += digits[d];
    }
    return out;
}

std::optional<full_progress> decode_full_progress(std::string_view text, std::size_t files) {
    const auto a = text.find(' ');
    if (a == std::string_view::npos) return std::nullopt;
    const auto b = text.find(' ', a + 1);
    if (b == std::string_view::npos) return std::nullopt;
    full_progress p;
    p.batch_id = std::string(text.substr(0, a));
    if (p.batch_id.empty() || p.batch_id.size() > 128) return std::nullopt;
    for (char c : p.batch_id) {
        const bool ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        c == '-' || c == '_';
        if (!ok) return std::nullopt;
    }
    const auto done = text.substr(a + 1, b - a - 1);
    if (done != "-") {
        std::int64_t v = 0;
        const auto [end, ec] = std::from_chars(done.data(), done.data() + done.size(), v);
        if (done.empty() || ec != std::errc() || end != done.data() + done.size() || v <= 0)
            return std::nullopt;
        p.completed_ms = v;
    }
    const auto bits = text.substr(b + 1);
    if (bits.size() != (files + 3) / 4) return std::nullopt;
    p.uploaded.assign(files, false);
    for (std::size_t i = 0; i < bits.size(); ++i) {
        const char c = bits[i];
        unsigned d;
        if (c >= '0' && c <= '9') {
            d = static_cast<unsigned>(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            d = static_cast<unsigned>(c - 'a' + 10);
        } else {
            return std::nullopt;
        }
        for (std::size_t k = 0; k < 4; ++k) {
            const bool set = (d >> k) & 1u;
            if (i * 4 + k >= files) {
                if (set) return std::nullopt;  // a bit past the last file
                continue;
            }
            p.uploaded[i * 4 + k] = set;
        }
    }
    return p;
}

}  // namespace aep
