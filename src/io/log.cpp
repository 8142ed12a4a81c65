#include "io/log.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <unistd.h>
#include <vector>

namespace aep {
namespace {

const char* level_name(log_level l) {
    static constexpr const char* names[] = {"debug", "info", "warning", "error"};
    const auto i = static_cast<std::size_t>(l);
    return i < std::size(names) ? names[i] : "info";
}

int syslog_priority(log_level l) {
    switch (l) {
        case log_level::debug:
            return 7;
        case log_level::info:
            return 6;
        case log_level::warning:
            return 4;
        case log_level::error:
            return 3;
    }
    return 6;
}

bool fd_is_journal(int fd) {
    const char* js = std::getenv("JOURNAL_STREAM");
    if (!js) return false;
    unsigned long long dev = 0, ino = 0;
    if (std::sscanf(js, "%llu:%llu", &dev, &ino) != 2) return false;
    struct stat st {};
    if (fstat(fd, &st) != 0) return false;
    return st.st_dev == dev && st.st_ino == ino;
}

bool is_safe(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == ':' || c == '/' || c == '@' || c == '+' || c == ',';
}

}  // namespace

std::string valid_utf8(std::string_view in) {
    std::string out;
    out.reserve(in.size());
    std::size_t i = 0;
    while (i < in.size()) {
        const auto c = static_cast<unsigned char>(in[i]);
        std::size_t len = c < 0x80           ? 1
                          : (c >> 5) == 0x6  ? 2
                          : (c >> 4) == 0xe  ? 3
                          : (c >> 3) == 0x1e ? 4
                                             : 0;
        bool ok = len > 0 && i + len <= in.size();
        for (std::size_t k = 1; ok && k < len; ++k) {
            ok = (static_cast<unsigned char>(in[i + k]) & 0xc0) == 0x80;
        }
        if (ok && len > 1) {
            // Reject overlong forms, surrogates and code points past U+10FFFF.
            std::uint32_t cp = c & (0x7f >> len);
            for (std::size_t k = 1; k < len; ++k) cp = (cp << 6) | (in[i + k] & 0x3f);
            ok = (len == 2 && cp >= 0x80) ||
                 (len == 3 && cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff)) ||
                 (len == 4 && cp >= 0x10000 && cp <= 0x10ffff);
        }
        if (ok) {
            out.append(in.substr(i, len));
            i += len;
        } else {
            out += "\xef\xbf\xbd";
            ++i;
        }
    }
    return out;
}

namespace {

void append_text_value(std::string& out, std::string_view v) {
    bool plain = !v.empty();
    for (char c : v) plain = plain && is_safe(c);
    if (plain) {
        out += v;
        return;
    }
    out += '"';
    for (unsigned char c : v) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20 || c >= 0x7f) {
                    char buf[5];
                    std::snprintf(buf, sizeof buf, "\\x%02x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    out += '"';
}

}  // namespace

std::string escape_text_value(std::string_view v) {
    std::string out;
    append_text_value(out, v);
    return out;
}

std::string describe(std::exception_ptr e) {
    if (!e) return "no error";
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        return ex.what();
    } catch (...) {
        return "unknown exception";
    }
}

std::string utc_timestamp() {
    using namespace std::chrono;
    const auto now = system_clock::now();
    const auto t = system_clock::to_time_t(now);
    const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    // Two per created batch (its log line and record): the date and time up to the second are
    // formatted once per second, the milliseconds each time.
    thread_local std::time_t cached_t = -1;
    thread_local char cached[64];
    if (t != cached_t) {
        std::tm tm{};
        gmtime_r(&t, &tm);
        std::snprintf(cached, sizeof cached, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        cached_t = t;
    }
    std::string out;
    out.reserve(24);
    out += cached;
    const int m = static_cast<int>(ms);
    out += '.';
    out += static_cast<char>('0' + m / 100);
    out += static_cast<char>('0' + m / 10 % 10);
    out += static_cast<char>('0' + m % 10);
    out += 'Z';
    return out;
}

logger::logger(log_config cfg, int fd) : cfg_(cfg), fd_(fd), journal_(fd_is_journal(fd)) {}

std::string logger::format_line(log_level level, std::string_view msg,
                                std::span<const log_field> fields) const {
    std::string line;
    line.reserve(320);
    if (journal_) line += "<" + std::to_string(syslog_priority(level)) + ">";
    if (cfg_.format == log_format::json) {
        boost::json::object o;
        if (!journal_) o["ts"] = utc_timestamp();
        o["level"] = level_name(level);
        o["msg"] = valid_utf8(msg);
        for (const auto& f : fields) {
            if (auto* s = std::get_if<std::string_view>(&f.value)) {
                o[f.key] = valid_utf8(*s);
            } else {
                o[f.key] = std::get<std::int64_t>(f.value);
            }
        }
        // Boost.JSON escapes control characters (so '\n' never appears raw); invalid UTF-8 was
        // replaced above, so every line is one valid JSON object.
        line += boost::json::serialize(o);
    } else {
        if (!journal_) line += utc_timestamp() + " ";
        if (level != log_level::info) line += std::string(level_name(level)) + ": ";
        for (unsigned char c : msg) line += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
        for (const auto& f : fields) {
            line += ' ';
            line += f.key;
            line += '=';
            if (auto* s = std::get_if<std::string_view>(&f.value)) {
                append_text_value(line, *s);
            } else {
                line += std::to_string(std::get<std::int64_t>(f.value));
            }
        }
    }
    line += '\n';
    return line;
}

bool logger::send_to_journal(log_level level, std::string_view line,
                             std::span<const log_field> fields) const {
    // The journal's native protocol (through libsystemd): MESSAGE= is the line as it would have
    // been written, and every field becomes a journal field of its own, upper-cased
    // (batch_id= -> BATCH_ID=), so `journalctl BATCH_ID=...` finds it.
    std::vector<std::string> parts;
    parts.reserve(fields.size() + 3);
    std::string_view text = line;
    if (!text.empty() && text.front() == '<') text.remove_prefix(text.find('>') + 1);
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    parts.push_back("MESSAGE=" + std::string(text));
    parts.push_back("PRIORITY=" + std::to_string(syslog_priority(level)));
    parts.push_back("SYSLOG_IDENTIFIER=aep-batchd");
    for (const auto& f : fields) {
        std::string p;
        for (char c : f.key) {
            p += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A')
                 : ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) ? c
                                                                      : '_';
        }
        p += '=';
        if (auto* s = std::get_if<std::string_view>(&f.value)) {
            p += valid_utf8(*s);
        } else {
            p += std::to_string(std::get<std::int64_t>(f.value));
        }
        parts.push_back(std::move(p));
    }
    // libsystemd reports success when the journal's socket is missing (not under systemd, or
    // journald gone): look first, so that the line is then written to stderr instead.
    struct stat st {};
    if (::stat("/run/systemd/journal/socket", &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
    std::vector<iovec> iov(parts.size());
    for (std::size_t i = 0; i < parts.size(); ++i) {
        iov[i].iov_base = parts[i].data();
        iov[i].iov_len = parts[i].size();
    }
    return sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) >= 0;
}

void logger::write_all(std::string_view text) const {
    std::size_t off = 0;
    while (off < text.size()) {
        const auto n = ::write(fd_, text.data() + off, text.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // a broken log sink must not take the daemon down
        off += static_cast<std::size_t>(n);
    }
}

void logger::defer_writes(std::function<void()> schedule) { schedule_ = std::move(schedule); }

void logger::flush(bool stop_deferring) {
    if (stop_deferring) schedule_ = nullptr;
    if (pending_.empty()) return;
    std::string text;
    text.swap(pending_);
    write_all(text);
}

logger::~logger() { flush(true); }

void logger::log(log_level level, std::string_view msg, std::span<const log_field> fields) {
    if (!enabled(level)) return;
    auto line = format_line(level, msg, fields);
    // Natively when asked and possible; on stderr when the journal cannot be reached.
    if (journal_ && cfg_.journal_fields && send_to_journal(level, line, fields)) return;
    if (!schedule_) {
        write_all(line);
        return;
    }
    const bool first = pending_.empty();
    if (first) {
        pending_.swap(line);
    } else {
        pending_ += line;
    }
    if (level >= log_level::warning || pending_.size() > 64 * 1024) {
        flush();
    } else if (first) {
        schedule_();
    }
}

}  // namespace aep
