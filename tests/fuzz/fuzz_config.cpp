// Config parsing and validation: any YAML text. Invariant: no crash, and errors name a cause.
#include "config/config.hpp"

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const auto r = aep::parse_config_text(text);
    for (const auto& e : r.validation.errors) {
        if (e.message.empty()) std::abort();
    }
    if (r.validation.ok()) (void)aep::validate(r.cfg);
    return 0;
}
