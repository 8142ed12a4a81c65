#include "app/cli.hpp"

#include <boost/version.hpp>
#include <openssl/crypto.h>

#include <algorithm>
#include <getopt.h>

namespace aep {

namespace {

constexpr const char* daemon_help =
    "usage: aep-batchd [--config FILE] [--once | --check]\n"
    "       aep-batchd enqueue [--config FILE] [--queue NAME] [--] DATASET_ID... | -\n"
    "       aep-batchd --version | --help\n"
    "\n"
    "Creates an Adobe Experience Platform batch for every dataset id dropped into the\n"
    "configured spool directories, and records each outcome in done/ or failed/.\n"
    "\n"
    "  -c, --config FILE  the YAML configuration (default /etc/aep-batchd/aep-batchd.yaml;\n"
    "                     see config/aep-batchd.example.yaml)\n"
    "      --check        validate the configuration and the client secret, print every\n"
    "                     problem (one per line, naming the key), exit 0 or 78\n"
    "      --once         process everything in the spools now, then exit: 0 all done,\n"
    "                     65 some went to failed/, 69 no access token within 60 s\n"
    "  -V, --version      print the version, the git revision and the libraries' versions\n"
    "  -h, --help         print this help\n"
    "\n"
    "SIGHUP re-reads the configuration and the client secret (a configuration with any\n"
    "problem is refused and the running one stays); SIGTERM and SIGINT stop gracefully.\n"
    "Run `aep-batchd enqueue --help` for the enqueue command.\n";

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

}  // namespace

command_line parse_command_line(const std::vector<std::string>& argv) {
    command_line c;
    const std::string prog = "aep-batchd";
    const bool enqueue = argv.size() > 1 && argv[1] == "enqueue";
    const std::string who = enqueue ? prog + " enqueue" : prog;
    std::vector<std::string> args(argv.begin() + (enqueue ? 1 : 0), argv.end());
    if (args.empty()) args.push_back(prog);
    std::vector<char*> av;
    for (auto& a : args) av.push_back(a.data());
    av.push_back(nullptr);
    enum { opt_check = 1000, opt_once };
    static const option daemon_options[] = {{"config", required_argument, nullptr, 'c'},
                                            {"check", no_argument, nullptr, opt_check},
                                            {"once", no_argument, nullptr, opt_once},
                                            {"version", no_argument, nullptr, 'V'},
                                            {"help", no_argument, nullptr, 'h'},
                                            {nullptr, 0, nullptr, 0}};
    static const option enqueue_options[] = {{"config", required_argument, nullptr, 'c'},
                                             {"queue", required_argument, nullptr, 'q'},
                                             {"help", no_argument, nullptr, 'h'},
                                             {nullptr, 0, nullptr, 0}};
    const option* longs = enqueue ? enqueue_options : daemon_options;
    // ':' first: a missing value is told apart from an unknown option. Options may come
    // after operands (GNU); `--` ends them.
    const char* shorts = enqueue ? ":c:q:h" : ":c:Vh";
    bool check = false;
    optind = 0;  // glibc: a fresh scan (the parser may run more than once in a process)
    opterr = 0;
    const int argc = static_cast<int>(args.size());
    while (true) {
        const int opt = getopt_long(argc, av.data(), shorts, longs, nullptr);
        if (opt == -1) break;
        switch (opt) {
            case 'c':
                c.config_path = optarg;
                c.config_given = true;
                break;
            case 'q':
                c.queue = optarg;
                break;
            case opt_check:
                check = true;
                break;
            case opt_once:
                c.once = true;
                break;
            case 'V':
                c.what = command_line::action::version;
                return c;
            case 'h':
                c.what = command_line::action::help;
                c.text = enqueue ? enqueue_help : daemon_help;
                return c;
            default: {
                // The argument getopt_long was looking at is the last one it consumed.
                const int at = std::min(std::max(optind - 1, 1), argc - 1);
                return fail(who, refusal(opt, av[static_cast<std::size_t>(at)], longs));
            }
        }
    }
    // getopt_long moved the operands behind the options in av (not in args).
    for (int i = optind; i < argc; ++i) {
        const std::string a = av[static_cast<std::size_t>(i)];
        if (!enqueue) {
            return fail(who, a == "enqueue"
                                 ? "put the command first: aep-batchd enqueue [OPTIONS] ID..."
                                 : "unexpected argument '" + a + "' (the only command is enqueue)");
        }
        c.ids.push_back(a);
    }
    if (enqueue) {
        c.what = command_line::action::enqueue;
        if (c.ids.empty()) return fail(who, "give at least one DATASET_ID, or '-' to read them");
        return c;
    }
    if (check && c.once) return fail(who, "--check and --once cannot be combined");
    if (check) c.what = command_line::action::check;
    return c;
}

std::string version_text() {
    std::string v = std::string("aep-batchd ") + AEP_BATCHD_VERSION + " (git " AEP_GIT_REVISION ")\n";
    v += std::string("Boost ") + std::to_string(BOOST_VERSION / 100000) + "." +
         std::to_string(BOOST_VERSION / 100 % 1000) + "." + std::to_string(BOOST_VERSION % 100);
    v += std::string(", ") + OpenSSL_version(OPENSSL_VERSION);
    v += ", yaml-cpp " AEP_YAML_CPP_VERSION ", libsystemd " AEP_LIBSYSTEMD_VERSION "\n";
    return v;
}

}  // namespace aep
