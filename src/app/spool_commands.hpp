// The operator's spool commands: `status`, `list`, `show` and `requeue` (README, *Operating the
// spools*), the counterparts of postqueue -p, postcat and postsuper -r. They work beside a
// running daemon: reading never opens an entry for writing or takes a lock, and requeue's one
// move is a rename that never replaces anything (io/spool_inventory.hpp).
// Owns: what each command prints and its exit code. Blocking; no loop.
#pragma once

#include "app/cli.hpp"
#include "config/config.hpp"

#include <ostream>

namespace aep {

int run_status(const config& cfg, const command_line& cl, std::ostream& out, std::ostream& err);
int run_list(const config& cfg, const command_line& cl, std::ostream& out, std::ostream& err);
int run_show(const config& cfg, const command_line& cl, std::ostream& out, std::ostream& err);
int run_requeue(const config& cfg, const command_line& cl, std::ostream& out, std::ostream& err);

// A JSON text indented two spaces per level; nullopt when it is not JSON.
std::optional<std::string> pretty_json(std::string_view text);
// "4s", "3m12s", "2h05m", "3d04h": an age for a column.
std::string short_age(std::int64_t seconds);

}  // namespace aep
