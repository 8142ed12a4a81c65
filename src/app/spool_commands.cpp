#include "app/spool_commands.hpp"

#include "aep/entry.hpp"
#include "aep/progress.hpp"
#include "app/exit_codes.hpp"
#include "io/spool_inventory.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <iomanip>
#include <map>

namespace aep {
namespace json = boost::json;

namespace {

constexpr const char* states[] = {"incoming", "processing", "failed", "done"};

std::int64_t now_s() { return static_cast<std::int64_t>(std::time(nullptr)); }

std::string utc(std::int64_t s) {
    const std::time_t t = static_cast<std::time_t>(s);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// Printable on one line: control characters and bytes past ASCII as '?'.
std::string one_line(std::string_view s) {
    std::string out;
    for (unsigned char c : s) out += c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?';
    return out;
}

// The queues a command works on: all, or the one --queue names (nullopt: not one of them).
std::optional<std::vector<const queue_config*>> pick(const config& cfg, const command_line& cl,
                                                     const char* cmd, std::ostream& err) {
    std::vector<const queue_config*> out;
    for (const auto& q : cfg.queues) {
        if (!cl.queue || q.name == *cl.queue) out.push_back(&q);
    }
    if (out.empty()) {
        err << "aep-batchd " << cmd << ": no queue named '" << *cl.queue
            << "' in the configuration\n";
        return std::nullopt;
    }
    return out;
}

// A spool the caller may not read: what to do. The exit code for it.
int refused(const spool_error& e, const char* cmd, std::ostream& err) {
    err << "aep-batchd " << cmd << ": " << e.what() << "\n";
    if (e.error_number() == EACCES || e.error_number() == EPERM) {
        err << "aep-batchd " << cmd
            << ": the spools are the daemon's: run this as root or as its user "
               "(sudo -u aep-batchd aep-batchd "
            << cmd << " ...)\n";
        return exit_noperm;
    }
    return e.error_number() == ENOENT ? exit_noinput : exit_cantcreat;
}

// What `list` and `show` tell about one entry or record.
struct entry_view {
    std::string queue, state, name;
    std::int64_t age = 0;
    std::optional<std::string> dataset_id, external_id, batch_id, last_error, content, record;
    std::optional<entry_progress> progress;
    std::string record_file;  // failed/: its error record
    bool held = false;        // processing/: a live daemon holds it
};

std::optional<std::string> json_string(const json::object& o, const char* key) {
    if (const auto* v = o.if_contains(key); v && v->is_string())
        return std::string(v->as_string());
    return std::nullopt;
}

entry_view view_of(const queue_config& q, const char* state, const spool_item& it,
                   const std::set<std::pair<std::uint64_t, std::uint64_t>>& locked, bool full) {
    entry_view v;
    v.queue = q.name;
    v.state = state;
    v.name = it.name;
    v.age = std::max<std::int64_t>(0, now_s() - it.mtime);
    v.held = locked.count({it.dev, it.ino}) > 0;
    if (it.stamp) {
        const auto sp = it.stamp->find(' ');
        v.external_id = it.stamp->substr(0, sp);
        if (sp != std::string::npos) v.progress = decode_progress(it.stamp->substr(sp + 1));
    }
    std::string why;
    const auto text = read_spool_file(q.spool, state, it.name, max_entry_bytes + 1, why);
    if (std::string(state) == "done") {
        v.record = text;
        boost::system::error_code ec;
        const auto parsed = text ? json::parse(*text, ec) : json::value();
        if (!ec && parsed.is_object()) {
            const auto& o = parsed.as_object();
            v.dataset_id = json_string(o, "datasetId");
            v.batch_id = json_string(o, "batchId");
            if (!v.external_id) v.external_id = json_string(o, "externalId");
            if (const auto* a = o.if_contains("attempts"); a && a->is_int64() && !v.progress) {
                v.progress = entry_progress{};
                v.progress->attempts = static_cast<int>(a->as_int64());
            }
        }
        return v;
    }
    if (text) {
        v.content = text;
        const auto parsed = parse_entry(*text);
        if (parsed.value) {
            v.dataset_id = parsed.value->dataset_id;
            if (!v.external_id) v.external_id = parsed.value->external_id;
        }
    } else {
        v.content = std::nullopt;
        if (full) v.last_error = "cannot read it: " + why;
    }
    if (std::string(state) == "failed") {
        v.record_file = it.name + ".error.json";
        std::string why2;
        const auto rec = read_spool_file(q.spool, "failed", v.record_file, 1 << 20, why2);
        boost::system::error_code ec;
        const auto parsed = rec ? json::parse(*rec, ec) : json::value();
        if (rec) v.record = rec;
        if (!ec && parsed.is_object()) {
            const auto& o = parsed.as_object();
            if (auto r = json_string(o, "reason")) v.last_error = r;
            if (!v.dataset_id) v.dataset_id = json_string(o, "datasetId");
            if (!v.external_id) v.external_id = json_string(o, "externalId");
            if (const auto* a = o.if_contains("attempts"); a && a->is_int64() && !v.progress) {
                v.progress = entry_progress{};
                v.progress->attempts = static_cast<int>(a->as_int64());
            }
        }
    } else if (v.progress && v.progress->last_status) {
        v.last_error = *v.progress->last_status == 0
                           ? "no answer to a create"
                           : "HTTP " + std::to_string(*v.progress->last_status) + " to a create";
    }
    return v;
}

json::object to_json(const entry_view& v) {
    json::object o;
    o["queue"] = v.queue;
    o["state"] = v.state;
    o["entry"] = one_line(v.name);
    o["ageSeconds"] = v.age;
    o["datasetId"] = v.dataset_id ? json::value(*v.dataset_id) : json::value(nullptr);
    o["externalId"] = v.external_id ? json::value(*v.external_id) : json::value(nullptr);
    o["attempts"] = v.progress ? v.progress->attempts : 0;
    o["lastError"] = v.last_error ? json::value(one_line(*v.last_error)) : json::value(nullptr);
    if (v.batch_id) o["batchId"] = *v.batch_id;
    if (v.state == "processing") o["heldByDaemon"] = v.held;
    return o;
}

// Rows of columns, padded to the widest cell (the last column is not padded).
void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> w;
    for (const auto& r : rows) {
        w.resize(std::max(w.size(), r.size()));
        for (std::size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], r[i].size());
    }
    for (const auto& r : rows) {
        std::string line;
        for (std::size_t i = 0; i < r.size(); ++i) {
            line += r[i];
            if (i + 1 < r.size()) line += std::string(w[i] - r[i].size() + 2, ' ');
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out << line << "\n";
    }
}

void indent_json(const json::value& v, std::string& out, int depth) {
    const std::string pad(static_cast<std::size_t>(depth) * 2, ' ');
    const std::string inner(static_cast<std::size_t>(depth + 1) * 2, ' ');
    if (v.is_object() && !v.as_object().empty()) {
        out += "{\n";
        bool first = true;
        for (const auto& kv : v.as_object()) {
            if (!first) out += ",\n";
            first = false;
            out += inner + json::serialize(json::value(kv.key())) + ": ";
            indent_json(kv.value(), out, depth + 1);
        }
        out += "\n" + pad + "}";
    } else if (v.is_array() && !v.as_array().empty()) {
        out += "[\n";
        bool first = true;
        for (const auto& e : v.as_array()) {
            if (!first) out += ",\n";
            first = false;
            out += inner;
            indent_json(e, out, depth + 1);
        }
        out += "\n" + pad + "]";
    } else {
        out += json::serialize(v);
    }
}

// `text` with each line indented by `by`.
std::string indented(const std::string& text, const std::string& by) {
    std::string out;
    std::size_t at = 0;
    while (at < text.size()) {
        const auto nl = text.find('\n', at);
        const auto end = nl == std::string::npos ? text.size() : nl;
        out += by + one_line(std::string_view(text).substr(at, end - at)) + "\n";
        at = end + 1;
    }
    return out;
}

// failed/'s entries; none where the spool was never made.
std::vector<spool_item> failed_entries(const std::string& root) {
    try {
        return list_spool(root, "failed", false);
    } catch (const spool_error& e) {
        if (e.error_number() == ENOENT) return {};
        throw;
    }
}

// An entry named by its path (as `list` and the logs show it): its file name.
std::string entry_name(const std::string& given) {
    const auto slash = given.find_last_of('/');
    return slash == std::string::npos ? given : given.substr(slash + 1);
}

std::string readable(const std::string& text) {
    if (auto p = pretty_json(text)) return *p;
    return text;
}

}  // namespace

std::optional<std::string> pretty_json(std::string_view text) {
    boost::system::error_code ec;
    const auto v = json::parse(text, ec);
    if (ec) return std::nullopt;
    std::string out;
    indent_json(v, out, 0);
    return out + "\n";
}

std::string short_age(std::int64_t s) {
    char buf[32];
    if (s < 60) {
        std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
    } else if (s < 3600) {
        std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                      static_cast<long long>(s % 60));
    } else if (s < 86400) {
        std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                      static_cast<long long>(s / 60 % 60));
    } else {
        std::snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(s / 86400),
                      static_cast<long long>(s / 3600 % 24));
    }
    return buf;
}

int run_status(const config& cfg, const command_line& cl, std::ostream& out, std::ostream& err) {
    const auto queues = pick(cfg, cl, "status", err);
    if (!queues) return exit_usage;
    const auto locked = locked_files();
    std::vector<std::vector<std::string>> rows = {
        {"QUEUE", "INCOMING", "PROCESSING", "DONE", "FAILED", "OLDEST WAITING", "DAEMON"}};
    int rc = exit_ok;
    for (const queue_config* q : *queues) {
        try {
            const auto incoming = list_spool(q->spool, "incoming", false);
            const std::size_t processing = count_spool(q->spool, "processing");
            const std::size_t done = count_spool(q->spool, "done");
            const std::size_t failed = count_spool(q->spool, "failed");
            const auto runs = inspect_spool_runs(q->spool, locked);
            const std::optional<std::int64_t> oldest =
                incoming.empty() ? std::nullopt
                                 : std::optional(std::max<std::int64_t>(
                                       0, now_s() - incoming.front().mtime));
            const std::string daemon =
                runs.held > 0    ? "running"
                : runs.stale > 0 ? "not running (the last run did not stop cleanly)"
                                 : "not running";
            if (cl.json) {
                json::object o;
                o["queue"] = q->name;
                o["spool"] = q->spool;
                o["exists"] = true;
                o["incoming"] = incoming.size();
                o["processing"] = processing;
                o["done"] = done;
                o["failed"] = failed;
                o["oldestWaitingSeconds"] = oldest ? json::value(*oldest) : json::value(nullptr);
                o["daemonRunning"] = runs.held > 0;
                o["daemonsHolding"] = runs.held;
                out << json::serialize(o) << "\n";
            } else {
                rows.push_back({q->name, std::to_string(incoming.size()),
                                std::to_string(processing), std::to_string(done),
                                std::to_string(failed), oldest ? short_age(*oldest) : "-",
                                daemon});
            }
        } catch (const spool_error& e) {
            if (e.error_number() != ENOENT) {
                rc = std::max(rc, refused(e, "status", err));
            } else if (cl.json) {
                json::object o;
                o["queue"] = q->name;
                o["spool"] = q->spool;
                o["exists"] = false;
                o["daemonRunning"] = false;
                out << json::serialize(o) << "\n";
            } else {
                rows.push_back({q->name, "-", "-", "-", "-", "-",
                                "no spool yet (the daemon makes it at start)"});
            }
        }
    }
    if (!cl.json && rows.size() > 1) print_table(out, rows);
    return rc;
}

int run_list(const config& cfg, const command_line& cl, std::ostream& out, std::ostream& err) {
    const auto queues = pick(cfg, cl, "list", err);
    if (!queues) return exit_usage;
    const auto locked = locked_files();
    std::vector<std::vector<std::string>> rows = {
        {"QUEUE", "STATE", "AGE", "ENTRY", "DATASET", "ATTEMPTS", "LAST ERROR"}};
    int rc = exit_ok;
    for (const queue_config* q : *queues) {
        for (const char* state : states) {
            if (cl.state ? *cl.state != state : std::string(state) == "done") continue;
            try {
                for (const auto& it : list_spool(q->spool, state, true)) {
                    auto v = view_of(*q, state, it, locked, false);
                    if (cl.json) {
                        out << json::serialize(to_json(v)) << "\n";
                        continue;
                    }
                    std::string st = state;
                    if (v.state == "processing") st += v.held ? " (held)" : " (left)";
                    rows.push_back({q->name, st, short_age(v.age), one_line(v.name),
                                    v.dataset_id.value_or("-"),
                                    std::to_string(v.progress ? v.progress->attempts : 0),
                                    one_line(v.last_error.value_or(""))});
                }
            } catch (const spool_error& e) {
                // A spool not made yet holds nothing.
                if (e.error_number() != ENOENT) rc = std::max(rc, refused(e, "list", err));
            }
        }
    }
    if (!cl.json && rows.size() > 1) print_table(out, rows);
    return rc;
}

int run_show(const config& cfg, const command_line& cl, std::ostream& out, std::ostream& err) {
    const auto queues = pick(cfg, cl, "show", err);
    if (!queues) return exit_usage;
    const auto locked = locked_files();
    int rc = exit_ok;
    for (const auto& given : cl.ids) {
        const std::string name = entry_name(given);
        bool found = false;
        for (const queue_config* q : *queues) {
            for (const char* state : states) {
                try {
                    for (const auto& it : list_spool(q->spool, state, true)) {
                        const bool same = it.name == name ||
                                          (std::string(state) == "done" &&
                                           (it.name == name + ".json" ||
                                            it.name.rfind(name + ".", 0) == 0));
                        if (!same) continue;
                        found = true;
                        const auto v = view_of(*q, state, it, locked, true);
                        out << q->name << "/" << state << "/" << one_line(it.name) << "\n";
                        out << "  path:        " << one_line(q->spool) << "/" << state << "/"
                            << one_line(it.name) << "\n";
                        out << "  changed:     " << utc(it.mtime) << " (" << short_age(v.age)
                            << " ago)\n";
                        if (v.state == "processing")
                            out << "  in flight:   "
                                << (v.held ? "yes, a running daemon holds it"
                                           : "no daemon holds it; resumed at the next start")
                                << "\n";
                        if (v.dataset_id) out << "  datasetId:   " << *v.dataset_id << "\n";
                        if (v.external_id) out << "  externalId:  " << *v.external_id << "\n";
                        if (v.batch_id) out << "  batchId:     " << *v.batch_id << "\n";
                        if (v.progress) {
                            out << "  creates sent: " << v.progress->attempts;
                            if (v.progress->claimed_ms)
                                out << "; first claimed " << utc(*v.progress->claimed_ms / 1000);
                            if (v.progress->sent_ms)
                                out << "; last sent " << utc(*v.progress->sent_ms / 1000);
                            out << "\n";
                        }
                        if (v.last_error) out << "  last error:  " << one_line(*v.last_error) << "\n";
                        if (v.content) out << "  content:\n" << indented(readable(*v.content), "    ");
                        if (v.record) {
                            out << (v.state == "done" ? "  record:\n"
                                                      : "  error record (failed/" +
                                                            one_line(v.record_file) + "):\n")
                                << indented(readable(*v.record), "    ");
                        }
                    }
                } catch (const spool_error& e) {
                    if (e.error_number() != ENOENT) rc = std::max(rc, refused(e, "show", err));
                }
            }
        }
        if (!found) {
            err << "aep-batchd show: no entry named '" << one_line(name) << "' in "
                << (cl.queue ? "queue " + *cl.queue : std::string("any queue")) << "\n";
            rc = std::max(rc, exit_noinput);
        }
    }
    return rc;
}

int run_requeue(const config& cfg, const command_line& cl, std::ostream& out, std::ostream& err) {
    const auto queues = pick(cfg, cl, "requeue", err);
    if (!queues) return exit_usage;
    // What to move: (queue, name) pairs, each name found in exactly one queue's failed/.
    std::vector<std::pair<const queue_config*, std::string>> moves;
    int rc = exit_ok;
    try {
        if (cl.all_failed) {
            for (const queue_config* q : *queues) {
                const auto items = failed_entries(q->spool);
                if (items.empty()) out << "no failed entries in queue " << q->name << "\n";
                for (const auto& it : items) moves.emplace_back(q, it.name);
            }
        }
        for (const auto& given : cl.ids) {
            const std::string name = entry_name(given);
            std::vector<const queue_config*> in;
            for (const queue_config* q : *queues) {
                for (const auto& it : failed_entries(q->spool)) {
                    if (it.name == name) in.push_back(q);
                }
            }
            if (in.size() == 1) {
                moves.emplace_back(in.front(), name);
            } else if (in.empty()) {
                err << "aep-batchd requeue: no failed entry named '" << one_line(name) << "'"
                    << (cl.queue ? " in queue " + *cl.queue : std::string()) << "\n";
                rc = std::max(rc, exit_noinput);
            } else {
                err << "aep-batchd requeue: '" << one_line(name)
                    << "' is in failed/ of several queues; name one with --queue\n";
                rc = std::max(rc, exit_usage);
            }
        }
    } catch (const spool_error& e) {
        return refused(e, "requeue", err);
    }
    for (const auto& [q, name] : moves) {
        const std::string what = q->name + "/" + one_line(name);
        try {
            switch (requeue_failed(q->spool, name, cl.dry_run)) {
                case requeue_result::moved:
                    out << (cl.dry_run ? "would requeue " : "requeued ") << what << "\n";
                    break;
                case requeue_result::not_found:
                    err << "aep-batchd requeue: " << what << " has left failed/ meanwhile\n";
                    rc = std::max(rc, exit_noinput);
                    break;
                case requeue_result::name_taken:
                    err << "aep-batchd requeue: " << what
                        << " not moved: incoming/ already holds an entry of that name (wait "
                           "until it is processed, then requeue again)\n";
                    rc = std::max(rc, exit_cantcreat);
                    break;
            }
        } catch (const spool_error& e) {
            rc = std::max(rc, refused(e, "requeue", err));
        }
    }
    return rc;
}

}  // namespace aep
