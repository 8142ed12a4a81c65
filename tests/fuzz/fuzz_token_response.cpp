// IMS token answers: two bytes of status, then the body. Invariant: a token is only ever
// returned on success, and never appears in the message meant for logs.
#include "aep/ims.hpp"

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const unsigned status = 100 + (data[0] | (data[1] << 8)) % 500;
    const std::string_view body(reinterpret_cast<const char*>(data + 2), size - 2);
    const auto r = aep::parse_token_response(status, body);
    if (r.outcome != aep::token_response::kind::ok && !r.access_token.empty()) std::abort();
    if (r.outcome == aep::token_response::kind::ok) {
        if (r.access_token.empty()) std::abort();
        if (r.message.find(r.access_token) != std::string::npos) std::abort();
    }
    return 0;
}
