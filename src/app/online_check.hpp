// `--check --online`: after the offline checks pass, one token from IMS and one read-only
// Catalog request per sandbox, so that wrong credentials, scopes, org, sandbox rights or trust
// anchors show before the start (as `vector validate` runs its health checks).
// Owns: those requests and what their answers tell the operator. Runs its own short loop.
#pragma once

#include "app/config_check.hpp"

#include <ostream>

namespace aep {

// Prints one line per step ("ok: ..." or "error: ..."). 0 when every step passed, else 69
// (EX_UNAVAILABLE). Each step is bounded by http.request_timeout.
int run_online_check(const checked_config& loaded, std::ostream& out);

}  // namespace aep
