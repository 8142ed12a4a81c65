// The emulator's small helpers, shared by its files. Test code.
#pragma once

#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace aep::emu {
namespace json = boost::json;


inline std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

inline std::string url_decode(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out += ' ';
        } else if (s[i] == '%' && i + 2 < s.size()) {
            out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

inline std::map<std::string, std::string> parse_form(std::string_view body) {
    std::map<std::string, std::string> out;
    while (!body.empty()) {
        auto amp = body.find('&');
        auto part = body.substr(0, amp);
        auto eq = part.find('=');
        if (eq != std::string_view::npos) {
            out[url_decode(part.substr(0, eq))] = url_decode(part.substr(eq + 1));
        }
        if (amp == std::string_view::npos) break;
        body.remove_prefix(amp + 1);
    }
    return out;
}

inline std::string header(const std::map<std::string, std::string>& h, const std::string& name) {
    auto it = h.find(name);
    return it == h.end() ? std::string() : it->second;
}

inline json::object error_body(const std::string& code, const std::string& message) {
    return json::object{{"error_code", code}, {"message", message}};
}


}  // namespace aep::emu
