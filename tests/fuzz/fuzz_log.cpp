// Log injection: whatever a file name or a server puts in a value, a text log line stays one
// line and a JSON log line stays one valid JSON object.
#include "io/log.hpp"

#include <boost/json/parse.hpp>

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view v(reinterpret_cast<const char*>(data), size);
    const auto escaped = aep::escape_text_value(v);
    for (unsigned char c : escaped) {
        if (c < 0x20 || c == 0x7f) std::abort();
    }
    aep::logger text(aep::log_config{aep::log_format::text, aep::log_level::info}, -1);
    const auto t = text.format_line(aep::log_level::warning, v, {{"entry", v}});
    if (t.find('\n') != t.size() - 1) std::abort();
    aep::logger json(aep::log_config{aep::log_format::json, aep::log_level::info}, -1);
    const auto j = json.format_line(aep::log_level::info, v, {{"entry", v}, {"n", 1}});
    if (j.find('\n') != j.size() - 1) std::abort();
    boost::system::error_code ec;
    (void)boost::json::parse(j, ec);
    if (ec) std::abort();
    return 0;
}
