// Structured log lines (text or JSON) on stderr, one write(2) per line (or, once defer_writes is
// called, info and debug lines gathered per event-loop turn); with log.journal_fields,
// native journal entries with a field per value. Owns: formatting, escaping of every value (no
// value can forge a line), journald priority prefixes. Does not own: deciding what to log.
// Called from the event-loop thread only.
#pragma once

#include "config/config.hpp"

#include <cstdint>
#include <exception>
#include <functional>
#include <initializer_list>
#include <span>
#include <vector>
#include <string>
#include <string_view>
#include <variant>

namespace aep {

struct log_field {
    std::string_view key;
    std::variant<std::string_view, std::int64_t> value;
    log_field(std::string_view k, std::string_view v) : key(k), value(v) {}
    log_field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
    log_field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
    log_field(std::string_view k, std::int64_t v) : key(k), value(v) {}
    log_field(std::string_view k, int v) : key(k), value(std::int64_t{v}) {}
    log_field(std::string_view k, std::size_t v) : key(k), value(static_cast<std::int64_t>(v)) {}
};

class logger {
  public:
    // fd is where lines go (stderr in the daemon). When $JOURNAL_STREAM names that fd, lines
    // carry "<N>" priority prefixes and no timestamp (journald adds its own).
    explicit logger(log_config cfg, int fd = 2);

    void set_config(log_config cfg) { cfg_ = cfg; }
    bool enabled(log_level level) const { return level >= cfg_.level; }

    void log(log_level level, std::string_view msg, std::span<const log_field> fields);
    void log(log_level level, std::string_view msg, std::initializer_list<log_field> fields = {}) {
        log(level, msg, std::span<const log_field>(fields.begin(), fields.size()));
    }
    // A line whose fields are gathered at run time (some only when known).
    void warn(std::string_view m, const std::vector<log_field>& f) {
        log(log_level::warning, m, std::span<const log_field>(f));
    }
    void debug(std::string_view m, std::initializer_list<log_field> f = {}) {
        log(log_level::debug, m, f);
    }
    void info(std::string_view m, std::initializer_list<log_field> f = {}) {
        log(log_level::info, m, f);
    }
    void warn(std::string_view m, std::initializer_list<log_field> f = {}) {
        log(log_level::warning, m, f);
    }
    void error(std::string_view m, std::initializer_list<log_field> f = {}) {
        log(log_level::error, m, f);
    }

    // From now on info and debug lines are gathered and written together by flush(): `schedule`
    // is called when a line is added to an empty buffer, and must arrange a flush() soon (the
    // daemon posts one to its event loop, so each loop turn costs one write(2), not one per
    // created batch). A warning or error flushes at once, with everything before it, so the
    // order of lines is kept; so does a buffer past 64 KiB. A flush writes whole lines only.
    void defer_writes(std::function<void()> schedule);
    // Writes gathered lines now; from then on, with `stop_deferring`, every line at once.
    void flush(bool stop_deferring = false);
    ~logger();
    logger(const logger&) = delete;
    logger& operator=(const logger&) = delete;

    // Pure formatting, exposed for tests.
    std::string format_line(log_level level, std::string_view msg,
                            std::span<const log_field> fields) const;
    std::string format_line(log_level level, std::string_view msg,
                            std::initializer_list<log_field> fields) const {
        return format_line(level, msg, std::span<const log_field>(fields.begin(), fields.size()));
    }

  private:
    bool send_to_journal(log_level level, std::string_view line,
                         std::span<const log_field> fields) const;

    void write_all(std::string_view text) const;

    log_config cfg_;
    int fd_;
    bool journal_;
    std::function<void()> schedule_;  // set while writes are deferred
    std::string pending_;             // whole lines not written yet
};

// A text-log value: bare when it is made only of safe characters, otherwise double-quoted with
// \" \\ \n \r \t and \xNN escapes, so that nothing a peer or a file name carries can start a
// new line or fake a key.
std::string escape_text_value(std::string_view v);

// The text with every byte sequence that is not valid UTF-8 replaced by U+FFFD: JSON written
// from it (log lines, result files) stays valid whatever a file name or a server put in it.
std::string valid_utf8(std::string_view in);

// What an exception carried, for a log line: what() of a std::exception, or a fixed text.
// Completion handlers of co_spawn get an exception_ptr; this saves each a rethrow-and-catch.
std::string describe(std::exception_ptr e);

// The current UTC time as 2026-11-28T15:30:00.123Z.
std::string utc_timestamp();

}  // namespace aep
