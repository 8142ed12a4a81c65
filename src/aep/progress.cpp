#include "aep/progress.hpp"

#include "io/log.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace aep {

namespace {
constexpr std::size_t max_error_bytes = 512;
constexpr std::int64_t max_attempts_kept = 1000000;
}  // namespace

std::string encode_progress(const entry_progress& p) {
    boost::json::object o;
    o["v"] = 1;
    o["attempts"] = p.attempts;
    if (p.claimed_ms) o["claimed"] = *p.claimed_ms;
    if (p.sent_ms) o["sent"] = *p.sent_ms;
    if (!p.last_error.empty()) o["last"] = valid_utf8(p.last_error.substr(0, max_error_bytes));
    if (!p.batch_id.empty()) o["batch"] = valid_utf8(p.batch_id);
    return boost::json::serialize(o);
}

std::optional<entry_progress> decode_progress(std::string_view text) {
    boost::system::error_code ec;
    auto jv = boost::json::parse(text, ec);
    if (ec || !jv.is_object()) return std::nullopt;
    const auto& o = jv.as_object();
    const auto* v = o.if_contains("v");
    if (!v || !v->is_int64() || v->get_int64() != 1) return std::nullopt;
    entry_progress p;
    const auto number = [&o](const char* key, std::optional<std::int64_t>& out) {
        const auto* x = o.if_contains(key);
        if (!x) return true;
        if (!x->is_int64() || x->get_int64() < 0) return false;
        out = x->get_int64();
        return true;
    };
    std::optional<std::int64_t> attempts;
    if (!number("attempts", attempts) || !number("claimed", p.claimed_ms) ||
        !number("sent", p.sent_ms)) {
        return std::nullopt;
    }
    if (!attempts || *attempts > max_attempts_kept) return std::nullopt;
    p.attempts = static_cast<int>(*attempts);
    for (const auto& [key, out] : {std::pair{"last", &p.last_error}, std::pair{"batch", &p.batch_id}}) {
        const auto* x = o.if_contains(key);
        if (!x) continue;
        if (!x->is_string()) return std::nullopt;
        *out = std::string(x->get_string());
    }
    return p;
}

}  // namespace aep
