#include "app/cli.hpp"

#include <boost/version.hpp>
#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>
#include <getopt.h>

namespace aep {

namespace {

constexpr const char* daemon_help =
    "usage: aep-batchd [--config FILE] [--once | --check [--online]]\n"
    "       aep-batchd COMMAND [OPTIONS] ...\n"
    "       aep-batchd --version | --help\n"
    "\n"
    "Creates an Adobe Experience Platform batch for every entry dropped into the configured\n"
    "spool directories (for an entry that names data files: uploads them, completes the\n"
    "batch and follows it to its final status), and records each outcome in done/ or failed/.\n"
    "\n"
    "  -c, --config FILE  the YAML configuration (default /etc/aep-batchd/aep-batchd.yaml;\n"
    "                     see config/aep-batchd.example.yaml)\n"
    "      --check        validate the configuration, the client secret and the spools, print\n"
    "                     every problem (one per line, naming the key), exit 0 or 78\n"
    "      --online       with --check: also fetch a token from IMS and make one read-only\n"
    "                     Catalog request per sandbox (exit 69 when that fails)\n"
    "      --once         process everything in the spools now, then exit: 0 all done,\n"
    "                     65 some went to failed/, 69 no access token within 60 s\n"
    "  -V, --version      print the version, the git revision and the libraries' versions\n"
    "  -h, --help         print this help\n"
    "\n"
    "Commands (each has --help):\n"
    "  enqueue   drop dataset ids into a queue's spool\n"
    "  status    per queue: entries waiting, in flight, done and failed; the oldest's age\n"
    "  list      one line per entry (name, age, dataset id, attempts, last error)\n"
    "  show      one entry's content, progress and record\n"
    "  requeue   move failed entries back into incoming/\n"
    "  config    the effective configuration, every default filled in, secrets hidden\n"
    "\n"
    "SIGHUP re-reads the configuration and the client secret (a configuration with any\n"
    "problem is refused and the running one stays); SIGTERM and SIGINT stop gracefully.\n";

constexpr const char* enqueue_help =
    "usage: aep-batchd enqueue [--config FILE] [--queue NAME] [--] DATASET_ID... | -\n"
    "\n"
    "Drops each dataset id into the queue's spool as its own entry (written in tmp/,\n"
    "renamed into incoming/) and prints the entry names. '-' reads ids from standard\n"
    "input, one per line. Every id is checked first: if one is invalid, nothing is\n"
    "enqueued (exit 65). Only root and members of the group aep-batchd-producers may\n"
    "drop entries (exit 77 otherwise).\n"
    "\n"
    "  -c, --config FILE  the YAML configuration (default /etc/aep-batchd/aep-batchd.yaml)\n"
    "  -q, --queue NAME   the queue (required when the configuration has more than one)\n"
    "  -h, --help         print this help\n"
    "      --             what follows is a dataset id, even if it starts with '-'\n";

constexpr const char* status_help =
    "usage: aep-batchd status [--config FILE] [--queue NAME] [--json]\n"
    "\n"
    "For each queue (or the one named): how many entries are in incoming/ (waiting),\n"
    "processing/ (in flight), done/ and failed/, how long the oldest waiting entry has\n"
    "waited, and whether a running daemon holds the spool. Read-only. Reading a spool\n"
    "needs root or the daemon's user (exit 77 otherwise).\n"
    "\n"
    "  -c, --config FILE  the YAML configuration (default /etc/aep-batchd/aep-batchd.yaml)\n"
    "  -q, --queue NAME   only this queue\n"
    "  -j, --json         one JSON object per queue, one per line\n"
    "  -h, --help         print this help\n";

constexpr const char* list_help =
    "usage: aep-batchd list [--config FILE] [--queue NAME]\n"
    "                       [--state incoming|processing|failed|done] [--json]\n"
    "\n"
    "One line per entry, oldest first: queue, state, name, age, dataset id, the creates\n"
    "sent for it so far, and its last error (a failed entry's reason). Without --state,\n"
    "every entry not yet done (incoming, processing, failed). Read-only.\n"
    "\n"
    "  -c, --config FILE  the YAML configuration (default /etc/aep-batchd/aep-batchd.yaml)\n"
    "  -q, --queue NAME   only this queue\n"
    "  -s, --state STATE  only entries in this directory\n"
    "  -j, --json         one JSON object per entry, one per line\n"
    "  -h, --help         print this help\n";

constexpr const char* show_help =
    "usage: aep-batchd show [--config FILE] [--queue NAME] [--] ENTRY...\n"
    "\n"
    "Prints each entry as found in its spool: where it is, its content (or done record),\n"
    "its externalId and progress, and a failed entry's error record, JSON indented.\n"
    "ENTRY is the entry's name (as `list` prints it). Read-only. Exit 66 when an entry\n"
    "is found in no queue.\n"
    "\n"
    "  -c, --config FILE  the YAML configuration (default /etc/aep-batchd/aep-batchd.yaml)\n"
    "  -q, --queue NAME   look only in this queue\n"
    "  -h, --help         print this help\n";

constexpr const char* requeue_help =
    "usage: aep-batchd requeue [--config FILE] [--queue NAME] [--dry-run] [--] ENTRY...\n"
    "       aep-batchd requeue [--config FILE] [--queue NAME] [--dry-run] --all-failed\n"
    "\n"
    "Moves failed entries back into incoming/ once their cause is fixed, one atomic rename\n"
    "each (never replacing an entry), and removes their error records. An entry keeps its\n"
    "externalId, so the daemon asks Catalog for a batch made under it before creating one;\n"
    "its retry.max_attempts and retry.max_age count afresh. Prints one line per entry.\n"
    "Exit 0 when every entry was moved, 66 when one was not found in failed/, 73 when one\n"
    "could not be moved, 77 without the rights (root or the daemon's user).\n"
    "\n"
    "  -c, --config FILE  the YAML configuration (default /etc/aep-batchd/aep-batchd.yaml)\n"
    "  -q, --queue NAME   only this queue (with several queues, ENTRY is looked up in all)\n"
    "  -a, --all-failed   every entry in failed/\n"
    "  -n, --dry-run      print what would be moved; move nothing\n"
    "  -h, --help         print this help\n";

constexpr const char* config_help =
    "usage: aep-batchd config [--config FILE] [--defaults]\n"
    "\n"
    "Prints the effective configuration as YAML: every key, with the defaults filled in\n"
    "for those the file leaves out. Secrets are never printed: the client secret's and\n"
    "the proxy credentials' files are named, not read. With --defaults, prints the\n"
    "built-in default of every key instead (no configuration file is read).\n"
    "\n"
    "  -c, --config FILE  the YAML configuration (default /etc/aep-batchd/aep-batchd.yaml)\n"
    "  -d, --defaults     the defaults, not the configuration\n"
    "  -h, --help         print this help\n";

enum long_only { opt_check = 1000, opt_once, opt_online };

// One command's grammar: its options and what its operands are.
struct grammar {
    const char* name;  // "" for the daemon itself
    command_line::action what;
    const char* help;
    const char* shorts;  // ':' first: a missing value is told apart from an unknown option
    std::vector<option> longs;
    enum class operands { none, at_least_one, entries } takes = operands::none;
};

const std::vector<grammar>& grammars() {
    using a = command_line::action;
    using o = grammar::operands;
    const option config = {"config", required_argument, nullptr, 'c'};
    const option queue = {"queue", required_argument, nullptr, 'q'};
    const option help = {"help", no_argument, nullptr, 'h'};
    const option json = {"json", no_argument, nullptr, 'j'};
    static const std::vector<grammar> all = {
        {"", a::run, daemon_help, ":c:Vh",
         {config,
          {"check", no_argument, nullptr, opt_check},
          {"online", no_argument, nullptr, opt_online},
          {"once", no_argument, nullptr, opt_once},
          {"version", no_argument, nullptr, 'V'},
          help},
         o::none},
        {"enqueue", a::enqueue, enqueue_help, ":c:q:h", {config, queue, help}, o::at_least_one},
        {"status", a::status, status_help, ":c:q:jh", {config, queue, json, help}, o::none},
        {"list", a::list, list_help, ":c:q:s:jh",
         {config, queue, {"state", required_argument, nullptr, 's'}, json, help},
         o::none},
        {"show", a::show, show_help, ":c:q:h", {config, queue, help}, o::at_least_one},
        {"requeue", a::requeue, requeue_help, ":c:q:anh",
         {config,
          queue,
          {"all-failed", no_argument, nullptr, 'a'},
          {"dry-run", no_argument, nullptr, 'n'},
          help},
         o::entries},
        {"config", a::config, config_help, ":c:dh",
         {config, {"defaults", no_argument, nullptr, 'd'}, help},
         o::none},
    };
    return all;
}

command_line fail(const std::string& prog, const std::string& why) {
    command_line c;
    c.what = command_line::action::error;
    c.text = prog + ": " + why + "\nTry '" + prog + " --help'.\n";
    return c;
}

// What getopt_long saw wrong (opt ':' or '?'; `arg` the argument it was looking at), in words
// that name the option.
std::string refusal(int opt, const std::string& arg, const option* longs) {
    if (arg.rfind("--", 0) == 0) {
        const std::string name = arg.substr(0, arg.find('='));
        if (opt == ':') return "option '" + name + "' needs a value";
        for (const option* o = longs; o->name; ++o) {
            if (name == std::string("--") + o->name && o->has_arg == no_argument)
                return "option '" + name + "' takes no value";
        }
        return "unknown option '" + name + "'";
    }
    const std::string name = std::string("-") + static_cast<char>(optopt);
    if (opt == ':') return "option '" + name + "' needs a value";
    return "unknown option '" + name + "'";
}

// Sets what option `opt` (with its value) says; false when it ends the parse (help, version).
bool apply(int opt, command_line& c, const grammar& g) {
    switch (opt) {
        case 'c':
            c.config_path = optarg;
            c.config_given = true;
            return true;
        case 'q':
            c.queue = optarg;
            return true;
        case 's':
            c.state = optarg;
            return true;
        case 'j':
            c.json = true;
            return true;
        case 'a':
            c.all_failed = true;
            return true;
        case 'n':
            c.dry_run = true;
            return true;
        case 'd':
            c.defaults = true;
            return true;
        case opt_check:
            c.what = command_line::action::check;
            return true;
        case opt_once:
            c.once = true;
            return true;
        case opt_online:
            c.online = true;
            return true;
        case 'V':
            c.what = command_line::action::version;
            return false;
        default:  // 'h'
            c.what = command_line::action::help;
            c.text = g.help;
            return false;
    }
}

// The rules between options and operands, once all are read.
command_line settle(command_line c, const grammar& g, const std::string& who) {
    using o = grammar::operands;
    if (g.takes == o::none && !c.ids.empty()) {
        const std::string& a = c.ids.front();
        if (!*g.name) {
            for (const auto& other : grammars()) {
                if (*other.name && a == other.name)
                    return fail(who, "put the command first: aep-batchd " + a + " [OPTIONS]");
            }
        }
        return fail(who, "unexpected argument '" + a + "'" +
                             (*g.name ? "" : " (commands: enqueue, status, list, show, requeue, config)"));
    }
    if (g.takes == o::at_least_one && c.ids.empty()) {
        return fail(who, g.what == command_line::action::enqueue
                             ? "give at least one DATASET_ID, or '-' to read them"
                             : "name at least one ENTRY");
    }
    if (g.takes == o::entries && c.ids.empty() == !c.all_failed) {
        return fail(who, c.all_failed ? "give either ENTRY names or --all-failed, not both"
                                      : "name at least one ENTRY, or give --all-failed");
    }
    if (c.state && *c.state != "incoming" && *c.state != "processing" && *c.state != "failed" &&
        *c.state != "done") {
        return fail(who, "--state must be incoming, processing, failed or done, not '" +
                             *c.state + "'");
    }
    if (!*g.name) {
        if (c.what == command_line::action::check && c.once)
            return fail(who, "--check and --once cannot be combined");
        if (c.online && c.what != command_line::action::check)
            return fail(who, "--online goes with --check");
    }
    return c;
}

}  // namespace

command_line parse_command_line(const std::vector<std::string>& argv) {
    const std::string prog = "aep-batchd";
    const grammar* g = &grammars().front();
    for (const auto& candidate : grammars()) {
        if (*candidate.name && argv.size() > 1 && argv[1] == candidate.name) g = &candidate;
    }
    const bool command = *g->name != '\0';
    const std::string who = command ? prog + " " + g->name : prog;
    std::vector<std::string> args(argv.begin() + (command ? 1 : 0), argv.end());
    if (args.empty()) args.push_back(prog);
    std::vector<char*> av;
    for (auto& a : args) av.push_back(a.data());
    av.push_back(nullptr);
    std::vector<option> longs = g->longs;
    longs.push_back({nullptr, 0, nullptr, 0});
    command_line c;
    c.what = g->what;
    optind = 0;  // glibc: a fresh scan (the parser may run more than once in a process)
    opterr = 0;
    const int argc = static_cast<int>(args.size());
    while (true) {
        // Options may come after operands (GNU); `--` ends them.
        const int opt = getopt_long(argc, av.data(), g->shorts, longs.data(), nullptr);
        if (opt == -1) break;
        if (opt == ':' || opt == '?') {
            // The argument getopt_long was looking at is the last one it consumed.
            const int at = std::min(std::max(optind - 1, 1), argc - 1);
            return fail(who, refusal(opt, av[static_cast<std::size_t>(at)], longs.data()));
        }
        if (!apply(opt, c, *g)) return c;
    }
    // getopt_long moved the operands behind the options in av (not in args).
    for (int i = optind; i < argc; ++i) c.ids.emplace_back(av[static_cast<std::size_t>(i)]);
    return settle(std::move(c), *g, who);
}

const char* build_revision() { return AEP_GIT_REVISION; }

std::string version_text() {
    std::string v = std::string("aep-batchd ") + AEP_BATCHD_VERSION + " (git " AEP_GIT_REVISION ")\n";
    v += std::string("Boost ") + std::to_string(BOOST_VERSION / 100000) + "." +
         std::to_string(BOOST_VERSION / 100 % 1000) + "." + std::to_string(BOOST_VERSION % 100);
    v += std::string(", ") + OpenSSL_version(OPENSSL_VERSION);
    v += ", yaml-cpp " AEP_YAML_CPP_VERSION ", libsystemd " AEP_LIBSYSTEMD_VERSION "\n";
    return v;
}

}  // namespace aep
