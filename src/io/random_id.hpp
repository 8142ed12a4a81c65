// Hex text and random ids: the one hex encoder and the one random source behind every id and
// name the daemon makes (externalIds, run markers, entry names).
// Owns: encoding and the kernel's CSPRNG. Pure but for getrandom(2).
#pragma once

#include <cstddef>
#include <string>

namespace aep {

// Lower-case hex of `n` bytes: 2n digits.
std::string to_hex(const unsigned char* bytes, std::size_t n);

// `bytes` bytes from the kernel's CSPRNG (getrandom, retried until all are there), as hex.
std::string random_hex(std::size_t bytes);

}  // namespace aep
