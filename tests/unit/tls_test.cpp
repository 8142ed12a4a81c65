#include "io/https_client.hpp"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace aep {
namespace {

namespace fs = std::filesystem;

TEST(TrustStore, HashLinksAreRecognised) {
    const fs::path dir = fs::temp_directory_path() / ("aep-tls-test-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    EXPECT_FALSE(dir_has_hash_links(dir.string())) << "empty";
    std::ofstream(dir / "README") << "x";
    std::ofstream(dir / "ca.pem") << "x";
    std::ofstream(dir / "abcdefgh.0") << "x";  // not hex
    EXPECT_FALSE(dir_has_hash_links(dir.string()));
    std::ofstream(dir / "0a1b2c3d.1") << "x";
    EXPECT_TRUE(dir_has_hash_links(dir.string()));
    EXPECT_FALSE(dir_has_hash_links((dir / "missing").string()));
    fs::remove_all(dir);
}

// The system store as the daemon sets it up (hashed directory, read lazily) must still find
// the system's anchors: a root certificate from the bundle verifies against it.
TEST(TrustStore, SystemAnchorsAreFoundWithoutLoadingTheBundle) {
    std::FILE* f = std::fopen(X509_get_default_cert_file(), "r");
    if (!f) GTEST_SKIP() << "no system CA bundle (ca-certificates) here";
    X509* root = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    ASSERT_NE(root, nullptr);
    auto ctx = make_client_tls_context(tls_config{});
    X509_STORE* store = SSL_CTX_get_cert_store(ctx.native_handle());
    X509_STORE_CTX* vctx = X509_STORE_CTX_new();
    ASSERT_EQ(X509_STORE_CTX_init(vctx, store, root, nullptr), 1);
    const int ok = X509_verify_cert(vctx);
    EXPECT_EQ(ok, 1) << X509_verify_cert_error_string(X509_STORE_CTX_get_error(vctx));
    X509_STORE_CTX_free(vctx);
    X509_free(root);
}

}  // namespace
}  // namespace aep
