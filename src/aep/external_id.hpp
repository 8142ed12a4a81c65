// The externalIds the daemon gives entries that bring none (README, *Delivery*): derived from
// the file where the file system records birth times, random elsewhere. Both are "aepb-" and
// 32 hex digits.
// Owns: their form and derivation. Pure but for the random source.
#pragma once

#include "io/spool.hpp"

#include <string>

namespace aep {

// Derived from the spool (the identity of its incoming/ directory) and the file. The same file
// gets the same id at every start, whether or not its stamp survived; different files, or the
// same name dropped again, get different ids. Throws spool_error when SHA-256 is unavailable.
std::string derive_external_id(const file_identity& incoming_dir, const file_identity& file);

// A random one (128 bits from the kernel's random source).
std::string new_external_id();

}  // namespace aep
