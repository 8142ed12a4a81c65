// inotify record decoding: never reads past the buffer, whatever the lengths claim.
#include "io/inotify_decode.hpp"

#include <cstdint>
#include <cstdlib>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // A copy of exactly `size` bytes, so ASan catches any read past the end.
    std::vector<char> buf(data, data + size);
    const auto d = aep::decode_inotify(std::span<const char>(buf.data(), buf.size()));
    if (d.consumed > size) std::abort();
    return 0;
}
