#include "io/sd_notify.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace aep {
namespace {

TEST(SdNotify, StatusTextShowsTheCounts) {
    EXPECT_EQ(status_text(3, 2, 10, 1, ""), "pending 3, in flight 2, done 10, failed 1");
    EXPECT_EQ(status_text(0, 5, 1, 0, "", 4), "pending 0, in flight 5, done 1, failed 0, tracking 4");
    EXPECT_EQ(status_text(0, 5, 1, 0, "B", 4, 2),
              "pending 0, in flight 5, done 1, failed 0, uploading 2, tracking 4, last batch B");
    EXPECT_EQ(status_text(0, 0, 1, 0, "B1"),
              "pending 0, in flight 0, done 1, failed 0, last batch B1");
}

TEST(SdNotify, DisabledWithoutNotifySocket) {
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    sd_notifier n;
    EXPECT_FALSE(n.enabled());
    EXPECT_FALSE(n.keepalive_interval());
    n.send("READY=1");  // harmless
}

TEST(SdNotify, WatchdogIntervalIsHalfTheTimeoutAndOnlyForThisProcess) {
    ::setenv("WATCHDOG_USEC", "30000000", 1);
    ::unsetenv("WATCHDOG_PID");
    EXPECT_EQ(sd_notifier().keepalive_interval(), std::chrono::milliseconds(15000));
    ::setenv("WATCHDOG_PID", "1", 1);  // another process's watchdog
    EXPECT_FALSE(sd_notifier().keepalive_interval());
    ::unsetenv("WATCHDOG_PID");
    ::unsetenv("WATCHDOG_USEC");
}

TEST(SdNotify, SendsOneDatagramToThePathAndToTheAbstractNamespace) {
    for (const std::string name : {std::string("/tmp/aep-notify-") + std::to_string(::getpid()),
                                   std::string("@aep-notify-") + std::to_string(::getpid())}) {
        int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ASSERT_GE(fd, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path, name.data(), name.size());
        if (name[0] == '@') addr.sun_path[0] = '\0';
        if (name[0] == '/') ::unlink(name.c_str());
        ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr),
                         static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size())),
                  0);
        ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
        sd_notifier n;
        ASSERT_TRUE(n.enabled());
        n.send("READY=1\nSTATUS=ok");
        char buf[64] = {};
        const auto got = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        EXPECT_EQ(std::string(buf, got > 0 ? static_cast<std::size_t>(got) : 0),
                  "READY=1\nSTATUS=ok")
            << "via " << name;
        ::close(fd);
        if (name[0] == '/') ::unlink(name.c_str());
    }
    ::unsetenv("NOTIFY_SOCKET");
}

}  // namespace
}  // namespace aep
