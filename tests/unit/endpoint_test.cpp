#include "config/endpoint.hpp"

#include <gtest/gtest.h>

namespace aep {
namespace {

TEST(Endpoint, HttpsWithDefaultPortAndBasePath) {
    auto p = parse_endpoint("https://platform.adobe.io/data/foundation/import/");
    ASSERT_TRUE(p.value) << p.error;
    EXPECT_TRUE(p.value->tls);
    EXPECT_EQ(p.value->host, "platform.adobe.io");
    EXPECT_EQ(p.value->port, "443");
    EXPECT_EQ(p.value->base_path, "/data/foundation/import");
    EXPECT_EQ(p.value->target("/batches"), "/data/foundation/import/batches");
    EXPECT_EQ(p.value->host_header(), "platform.adobe.io");
    EXPECT_FALSE(p.value->loopback);
    EXPECT_FALSE(p.insecure);
}

TEST(Endpoint, ExplicitPortAndIpv6) {
    auto p = parse_endpoint("https://[::1]:8443/x");
    ASSERT_TRUE(p.value) << p.error;
    EXPECT_EQ(p.value->host, "::1");
    EXPECT_EQ(p.value->port, "8443");
    EXPECT_EQ(p.value->host_header(), "[::1]:8443");
    EXPECT_TRUE(p.value->loopback);
}

TEST(Endpoint, PlainHttpOnlyOnLoopback) {
    for (const char* ok :
         {"http://127.0.0.1:4010", "http://localhost/x", "http://[::1]:1/", "http://127.1.2.3/"}) {
        auto p = parse_endpoint(ok);
        EXPECT_TRUE(p.value) << ok << ": " << p.error;
        EXPECT_TRUE(p.insecure) << ok;
    }
    for (const char* bad :
         {"http://example.com", "http://10.0.0.1/", "http://localhost.example.com/"}) {
        auto p = parse_endpoint(bad);
        EXPECT_FALSE(p.value) << bad;
        EXPECT_NE(p.error.find("must use https://"), std::string::npos) << p.error;
    }
}

TEST(Endpoint, RejectsWhatCannotBeAnEndpoint) {
    EXPECT_FALSE(parse_endpoint("https://host/x?q=1").value);
    EXPECT_FALSE(parse_endpoint("https://host/x#f").value);
    EXPECT_FALSE(parse_endpoint("https://user:pw@host/").value);
    EXPECT_FALSE(parse_endpoint("https:///path").value);
    EXPECT_FALSE(parse_endpoint("host/path").value);
    EXPECT_FALSE(parse_endpoint("https://host:0/").value);
}

TEST(Endpoint, OriginKeySeparatesSchemesAndPorts) {
    auto a = *parse_endpoint("https://h/a").value;
    auto b = *parse_endpoint("https://h/b").value;
    auto c = *parse_endpoint("https://h:444/a").value;
    EXPECT_EQ(a.origin_key(), b.origin_key());
    EXPECT_NE(a.origin_key(), c.origin_key());
}

}  // namespace
}  // namespace aep
