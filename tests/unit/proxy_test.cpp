#include "config/proxy.hpp"

#include <gtest/gtest.h>

namespace aep {
namespace {

endpoint ep(const char* url) { return *parse_endpoint(url).value; }

TEST(Proxy, Base64) {
    EXPECT_EQ(base64_encode(""), "");
    EXPECT_EQ(base64_encode("f"), "Zg==");
    EXPECT_EQ(base64_encode("fo"), "Zm8=");
    EXPECT_EQ(base64_encode("foo"), "Zm9v");
    EXPECT_EQ(base64_encode("user:p@ss"), "dXNlcjpwQHNz");
}

TEST(Proxy, EnvironmentFormWithCredentials) {
    auto r =
        parse_proxy_env("http://user:p%40ss@proxy.corp:3128", "localhost, .internal ;10.0.0.1");
    ASSERT_EQ(r.error, "");
    ASSERT_TRUE(r.settings.proxy);
    EXPECT_EQ(r.settings.proxy->host, "proxy.corp");
    EXPECT_EQ(r.settings.proxy->port, "3128");
    EXPECT_EQ(r.settings.authorization, "Basic " + base64_encode("user:p@ss"));  // percent-decoded
    EXPECT_EQ(r.settings.no_proxy,
              (std::vector<std::string>{"localhost", ".internal", "10.0.0.1"}));
}

TEST(Proxy, BadUrlsNameTheVariable) {
    EXPECT_NE(parse_proxy_env("https://proxy:3128", "").error.find("https_proxy"),
              std::string::npos);
    EXPECT_NE(parse_proxy_env("proxy:3128", "").error, "");
    EXPECT_NE(parse_proxy_env("http://proxy:3128/path", "").error, "");
    EXPECT_EQ(parse_proxy_env("", "").error, "");
    EXPECT_FALSE(parse_proxy_env("", "").settings.proxy);
}

TEST(Proxy, OnlyTlsTargetsNotInNoProxy) {
    auto s = parse_proxy_env("http://proxy:3128", "localhost,.adobe.io,example.com:8443").settings;
    EXPECT_TRUE(use_proxy(s, ep("https://ims-na1.adobelogin.com/ims/token/v3")));
    EXPECT_FALSE(use_proxy(s, ep("https://platform.adobe.io/data")));  // .adobe.io suffix
    EXPECT_FALSE(use_proxy(s, ep("https://adobe.io/")));               // the domain itself
    EXPECT_TRUE(use_proxy(s, ep("https://notadobe.io/")));             // not a suffix at a dot
    EXPECT_FALSE(use_proxy(s, ep("https://localhost:1/")));
    EXPECT_FALSE(use_proxy(s, ep("https://example.com:8443/")));
    EXPECT_TRUE(use_proxy(s, ep("https://example.com/")));     // other port
    EXPECT_FALSE(use_proxy(s, ep("http://127.0.0.1:8080/")));  // plain http is never proxied
    auto all = parse_proxy_env("http://proxy:3128", "*").settings;
    EXPECT_FALSE(use_proxy(all, ep("https://platform.adobe.io/")));
}

TEST(Proxy, ConnectRequestHead) {
    EXPECT_EQ(connect_request(ep("https://platform.adobe.io/x"), ""),
              "CONNECT platform.adobe.io:443 HTTP/1.1\r\nHost: platform.adobe.io:443\r\n\r\n");
    EXPECT_EQ(connect_request(ep("https://[::1]:8443/"), "Basic abc"),
              "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\nProxy-Authorization: Basic "
              "abc\r\n\r\n");
}

}  // namespace
}  // namespace aep
