// The command line: the daemon (`aep-batchd [--config FILE] [--once | --check [--online]]`) and
// its commands (enqueue, status, list, show, requeue, config), each with its own --help, and
// --version. Parsed with getopt_long (glibc): `--opt value` and `--opt=value`, short forms,
// `--` ending the options, and a message for a missing value or an unknown option that names it.
// Owns: the grammar, the help texts and the default configuration path. Pure (no I/O).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace aep {

// Where the package installs the configuration: the default for --config.
inline constexpr const char* default_config_path = "/etc/aep-batchd/aep-batchd.yaml";

struct command_line {
    enum class action {
        run,
        check,
        enqueue,
        status,
        list,
        show,
        requeue,
        config,
        help,
        version,
        error
    } what = action::run;
    std::string config_path = default_config_path;
    bool config_given = false;  // --config was on the command line
    bool once = false;
    bool online = false;               // --check --online
    std::optional<std::string> queue;  // --queue
    std::optional<std::string> state;  // list --state
    bool json = false;                 // status, list --json
    bool all_failed = false;           // requeue --all-failed
    bool dry_run = false;              // requeue --dry-run
    bool defaults = false;             // config --defaults
    std::vector<std::string> ids;      // the operands: enqueue's ids ("-": standard input), entries
    std::string text;                  // help: the help to print; error: what is wrong
};

// Parses argv (argv[0] is the program). An error's text ends with a hint at --help.
command_line parse_command_line(const std::vector<std::string>& argv);

// The git revision the binary was built from ("unknown" outside a git tree).
const char* build_revision();

// What --version prints: the version, the git revision it was built from, and the libraries'.
std::string version_text();

}  // namespace aep
