// `aep-batchd config`: the effective configuration as YAML, every key present, defaults filled
// in (the counterpart of postconf and nginx -T); `--defaults`: the built-in defaults.
// Owns: that rendering. It never reads a secret: the files and variables that hold secrets
// are named (validation refuses a password in http.proxy). Pure.
#pragma once

#include "config/config.hpp"

#include <string>

namespace aep {

// YAML that load_config reads back to `cfg`.
std::string dump_config(const config& cfg);
// The defaults of every key: the configuration a file with only the required keys gets.
std::string dump_defaults();

}  // namespace aep
