// The command line: `aep-batchd [--config FILE] [--once | --check]`, `aep-batchd enqueue
// [--config FILE] [--queue NAME] [--] ID... | -`, `--help` and `--version` for each. Parsed with
// getopt_long (glibc): `--opt value` and `--opt=value`, short forms, `--` ending the options,
// and a message for a missing value or an unknown option that names it.
// Owns: the grammar, the help texts and the default configuration path. Pure (no I/O).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace aep {

// Where the package installs the configuration: the default for --config.
inline constexpr const char* default_config_path = "/etc/aep-batchd/aep-batchd.yaml";

struct command_line {
    enum class action { run, check, enqueue, help, version, error } what = action::run;
    std::string config_path = default_config_path;
    bool config_given = false;  // --config was on the command line
    bool once = false;
    std::optional<std::string> queue;  // enqueue --queue
    std::vector<std::string> ids;      // enqueue's operands ("-": standard input)
    std::string text;                  // help: the help to print; error: what is wrong
};

// Parses argv (argv[0] is the program). An error's text ends with a hint at --help.
command_line parse_command_line(const std::vector<std::string>& argv);

// What --version prints: the version, the git revision it was built from, and the libraries'.
std::string version_text();

}  // namespace aep
