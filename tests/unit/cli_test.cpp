// The command line, as a new operator types it: every form getopt_long allows, and a message
// naming the option for every mistake.
#include "app/cli.hpp"

#include <gtest/gtest.h>

using namespace aep;
using action = command_line::action;

namespace {
command_line parse(std::vector<std::string> args) {
    args.insert(args.begin(), "aep-batchd");
    return parse_command_line(args);
}
}  // namespace

TEST(CommandLine, TheDaemonRunsWithThePackagedConfigByDefault) {
    const auto c = parse({});
    EXPECT_EQ(c.what, action::run);
    EXPECT_EQ(c.config_path, "/etc/aep-batchd/aep-batchd.yaml");
    EXPECT_FALSE(c.config_given);
    EXPECT_FALSE(c.once);
}

TEST(CommandLine, EveryFormOfAValue) {
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"--config", "/x.yaml"}, {"--config=/x.yaml"}, {"-c", "/x.yaml"}, {"-c/x.yaml"}}) {
        const auto c = parse(args);
        EXPECT_EQ(c.what, action::run) << args[0];
        EXPECT_EQ(c.config_path, "/x.yaml") << args[0];
        EXPECT_TRUE(c.config_given);
    }
    EXPECT_EQ(parse({"--once", "--config", "/x"}).once, true);
    EXPECT_EQ(parse({"--check", "-c", "/x"}).what, action::check);
}

TEST(CommandLine, HelpAndVersionForEachCommand) {
    for (const char* h : {"--help", "-h"}) {
        const auto d = parse({h});
        EXPECT_EQ(d.what, action::help);
        EXPECT_NE(d.text.find("usage: aep-batchd [--config FILE]"), std::string::npos);
        const auto e = parse({"enqueue", h});
        EXPECT_EQ(e.what, action::help);
        EXPECT_NE(e.text.find("usage: aep-batchd enqueue"), std::string::npos);
    }
    EXPECT_EQ(parse({"--version"}).what, action::version);
    EXPECT_EQ(parse({"-V"}).what, action::version);
    const auto v = version_text();
    EXPECT_EQ(v.rfind("aep-batchd ", 0), 0u);
    EXPECT_NE(v.find("(git "), std::string::npos);
    EXPECT_NE(v.find("Boost 1."), std::string::npos);
    EXPECT_NE(v.find("OpenSSL 3"), std::string::npos);
    EXPECT_NE(v.find("yaml-cpp "), std::string::npos);
    EXPECT_NE(v.find("libsystemd "), std::string::npos);
}

TEST(CommandLine, EnqueueTakesOptionsAnywhereAndIdsAfterTheDoubleDash) {
    auto c = parse({"enqueue", "ds1", "--queue", "q", "ds2", "--config=/x"});
    EXPECT_EQ(c.what, action::enqueue);
    EXPECT_EQ(c.queue, "q");
    EXPECT_EQ(c.config_path, "/x");
    EXPECT_EQ(c.ids, (std::vector<std::string>{"ds1", "ds2"}));
    c = parse({"enqueue", "-q", "q", "--", "-abc", "--queue"});
    EXPECT_EQ(c.what, action::enqueue);
    EXPECT_EQ(c.ids, (std::vector<std::string>{"-abc", "--queue"}));
    c = parse({"enqueue", "-"});
    EXPECT_EQ(c.ids, std::vector<std::string>{"-"}) << "'-' is standard input, not an option";
}

TEST(CommandLine, MistakesNameTheOptionAndPointAtHelp) {
    const std::pair<std::vector<std::string>, const char*> cases[] = {
        {{"--config"}, "aep-batchd: option '--config' needs a value"},
        {{"-c"}, "aep-batchd: option '-c' needs a value"},
        {{"--once=yes"}, "aep-batchd: option '--once' takes no value"},
        {{"--bogus"}, "aep-batchd: unknown option '--bogus'"},
        {{"-x"}, "aep-batchd: unknown option '-x'"},
        {{"stray"}, "aep-batchd: unexpected argument 'stray'"},
        {{"--check", "--once"}, "aep-batchd: --check and --once cannot be combined"},
        {{"--config", "/x", "enqueue", "ds"}, "aep-batchd: put the command first"},
        {{"enqueue"}, "aep-batchd enqueue: give at least one DATASET_ID"},
        {{"enqueue", "--queue"}, "aep-batchd enqueue: option '--queue' needs a value"},
        {{"enqueue", "-abc"}, "aep-batchd enqueue: unknown option '-a'"},
        {{"enqueue", "--once", "ds"}, "aep-batchd enqueue: unknown option '--once'"},
    };
    for (const auto& [args, message] : cases) {
        const auto c = parse(args);
        EXPECT_EQ(c.what, action::error) << args[0];
        EXPECT_EQ(c.text.rfind(message, 0), 0u) << c.text;
        EXPECT_NE(c.text.find("Try 'aep-batchd"), std::string::npos) << c.text;
    }
}

TEST(CommandLine, ParsingTwiceInOneProcessStartsAfresh) {
    EXPECT_EQ(parse({"--bogus"}).what, action::error);
    EXPECT_EQ(parse({"--config", "/y"}).config_path, "/y");
    EXPECT_EQ(parse({"enqueue", "ds"}).ids, std::vector<std::string>{"ds"});
}
