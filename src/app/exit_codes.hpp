// The process exit codes of aep-batchd and its commands (sysexits.h where one fits).
#pragma once

namespace aep {

inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1;
inline constexpr int exit_usage = 64;      // EX_USAGE: bad command line
inline constexpr int exit_dataerr = 65;    // EX_DATAERR: an invalid dataset id (enqueue), or
                                           // entries that went to failed/ (--once)
inline constexpr int exit_noinput = 66;    // EX_NOINPUT: no such entry (show, requeue)
inline constexpr int exit_unavailable = 69;  // EX_UNAVAILABLE: no access token (--once,
                                             // --check --online)
inline constexpr int exit_cantcreat = 73;  // EX_CANTCREAT: a spool cannot be created or used
inline constexpr int exit_noperm = 77;     // EX_NOPERM: may not drop entries (enqueue)
inline constexpr int exit_config = 78;     // EX_CONFIG: configuration error

}  // namespace aep
