#include "io/tls_seal.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <string>

namespace aep {
namespace {

// A client and a server connected in memory (each with its own read and write memory BIOs),
// the handshake done: what the sealer writes is handed to the server by hand.
class tls_pair {
  public:
    tls_pair() {
        key_ = EVP_EC_gen("P-256");
        cert_ = X509_new();
        X509_set_version(cert_, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(cert_), 1);
        X509_gmtime_adj(X509_getm_notBefore(cert_), -60);
        X509_gmtime_adj(X509_getm_notAfter(cert_), 3600);
        X509_set_pubkey(cert_, key_);
        X509_NAME* name = X509_get_subject_name(cert_);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
        X509_set_issuer_name(cert_, name);
        X509_sign(cert_, key_, EVP_sha256());
        sctx_ = SSL_CTX_new(TLS_server_method());
        SSL_CTX_use_certificate(sctx_, cert_);
        SSL_CTX_use_PrivateKey(sctx_, key_);
        cctx_ = SSL_CTX_new(TLS_client_method());  // the record path is under test, not trust
        server = make(sctx_, s_in, s_out);
        client = make(cctx_, c_in, c_out);
        // As asio's ssl::stream sets them.
        SSL_set_mode(client, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        SSL_set_connect_state(client);
        SSL_set_accept_state(server);
        for (int i = 0; i < 20 && !(SSL_is_init_finished(client) && SSL_is_init_finished(server)); ++i) {
            SSL_do_handshake(client);
            pump(c_out, s_in);
            SSL_do_handshake(server);
            pump(s_out, c_in);
        }
    }
    ~tls_pair() {
        SSL_free(client);
        SSL_free(server);
        SSL_CTX_free(cctx_);
        SSL_CTX_free(sctx_);
        X509_free(cert_);
        EVP_PKEY_free(key_);
    }
    bool ready() const { return SSL_is_init_finished(client) && SSL_is_init_finished(server); }

    static void pump(BIO* from, BIO* to) {
        char buf[4096];
        int n;
        while ((n = BIO_read(from, buf, sizeof buf)) > 0) BIO_write(to, buf, n);
    }
    // Everything the server can read now.
    std::string server_reads() {
        std::string got;
        char buf[16384];
        int n;
        while ((n = SSL_read(server, buf, sizeof buf)) > 0) got.append(buf, static_cast<std::size_t>(n));
        return got;
    }

    SSL* client = nullptr;
    SSL* server = nullptr;
    BIO *c_in = nullptr, *c_out = nullptr, *s_in = nullptr, *s_out = nullptr;

  private:
    static SSL* make(SSL_CTX* ctx, BIO*& in, BIO*& out) {
        SSL* s = SSL_new(ctx);
        in = BIO_new(BIO_s_mem());
        out = BIO_new(BIO_s_mem());
        BIO_set_mem_eof_return(in, -1);
        SSL_set_bio(s, in, out);
        return s;
    }
    EVP_PKEY* key_ = nullptr;
    X509* cert_ = nullptr;
    SSL_CTX *sctx_ = nullptr, *cctx_ = nullptr;
};

std::string random_bytes(std::size_t n) {
    std::string s(n, '\0');
    RAND_bytes(reinterpret_cast<unsigned char*>(s.data()), static_cast<int>(n));
    return s;
}

// The TLS records in `wire`: their count, each checked to be application data of at most
// 2^14 bytes of plaintext (plus the AEAD's overhead).
int count_records(std::string_view wire) {
    int records = 0;
    while (!wire.empty()) {
        EXPECT_GE(wire.size(), 5u);
        EXPECT_EQ(static_cast<unsigned char>(wire[0]), 23) << "application data";
        const std::size_t len = (static_cast<unsigned char>(wire[3]) << 8) | static_cast<unsigned char>(wire[4]);
        EXPECT_LE(len, 16384u + 256u);
        EXPECT_GE(wire.size(), 5 + len);
        wire.remove_prefix(std::min(wire.size(), 5 + len));
        ++records;
    }
    return records;
}

TEST(TlsSealer, SealsInBulkWhatThePeerReadsBackInOrder) {
    tls_pair p;
    ASSERT_TRUE(p.ready());
    p.pump(p.c_out, p.s_in);
    p.server_reads();  // nothing yet; takes the server's side of the handshake to its end
    const std::string head = "PUT /x HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n";
    const std::string body = random_bytes(1048577);
    std::string sealed;
    {
        tls_sealer s(p.client);
        ASSERT_TRUE(s.seal(head));
        ASSERT_TRUE(s.seal(std::string_view(body).substr(0, 300000)));
        sealed += s.out();
        s.clear();
        EXPECT_EQ(s.size(), 0u);
        ASSERT_TRUE(s.seal(std::string_view(body).substr(300000)));
        sealed += s.out();
        // Nothing went to the connection's own write BIO meanwhile.
        EXPECT_EQ(BIO_ctrl_pending(p.c_out), 0u);
    }
    // Full records: the header's, then 2^14 bytes each (a short one at each seal's end).
    EXPECT_EQ(count_records(sealed), 1 + (300000 + 16383) / 16384 + (748577 + 16383) / 16384);
    // Once the sealer is gone, the connection writes to its own BIO again, after the sealed bytes.
    ASSERT_EQ(SSL_write(p.client, "after", 5), 5);
    EXPECT_GT(BIO_ctrl_pending(p.c_out), 0u);
    BIO_write(p.s_in, sealed.data(), static_cast<int>(sealed.size()));
    p.pump(p.c_out, p.s_in);
    EXPECT_EQ(p.server_reads(), head + body + "after");
}

TEST(TlsSealer, ASealerWithNothingSealedLeavesTheConnectionAsItWas) {
    tls_pair p;
    ASSERT_TRUE(p.ready());
    BIO* own = SSL_get_wbio(p.client);
    { tls_sealer s(p.client); }
    EXPECT_EQ(SSL_get_wbio(p.client), own);
    ASSERT_EQ(SSL_write(p.client, "ping", 4), 4);
    p.pump(p.c_out, p.s_in);
    EXPECT_EQ(p.server_reads(), "ping");
}

TEST(TlsSealer, AConnectionThatCannotWriteIsReported) {
    tls_pair p;
    ASSERT_TRUE(p.ready());
    // A connection that has sent its close_notify refuses application data.
    SSL_shutdown(p.client);
    tls_sealer s(p.client);
    EXPECT_FALSE(s.seal("late"));
    EXPECT_NE(s.error().find("TLS write"), std::string::npos) << s.error();
}

}  // namespace
}  // namespace aep
