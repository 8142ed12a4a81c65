#include "io/tls_seal.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>

#include <climits>
#include <stdexcept>

namespace aep {

namespace {

int sink_write(BIO* b, const char* data, int len) {
    static_cast<std::string*>(BIO_get_data(b))->append(data, static_cast<std::size_t>(len));
    return len;
}

long sink_ctrl(BIO*, int cmd, long, void*) {
    // OpenSSL flushes after handshake messages; a buffer has nothing to flush. Every other
    // control (pending bytes, kernel TLS, ...) is "no" / 0.
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

int sink_create(BIO* b) {
    BIO_set_init(b, 1);
    return 1;
}

const BIO_METHOD* sink_method() {
    static const BIO_METHOD* m = [] {
        BIO_METHOD* bm = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "aep tls sealer");
        if (!bm || !BIO_meth_set_write(bm, sink_write) || !BIO_meth_set_ctrl(bm, sink_ctrl) ||
            !BIO_meth_set_create(bm, sink_create)) {
            throw std::runtime_error("cannot make an OpenSSL BIO method");
        }
        return bm;
    }();
    return m;
}

std::string openssl_error(const char* step) {
    std::string s = step;
    while (const unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        s += ": ";
        s += buf;
    }
    return s;
}

}  // namespace

tls_sealer::tls_sealer(SSL* ssl) : ssl_(ssl), own_(SSL_get_wbio(ssl)) {
    mine_ = BIO_new(sink_method());
    if (!mine_) throw std::runtime_error(openssl_error("cannot make a TLS output buffer"));
    BIO_set_data(mine_, &out_);
    // SSL_set0_wbio drops the SSL's reference to the BIO it replaces: one is taken here so
    // that the connection's own BIO lives on to be put back.
    BIO_up_ref(own_);
    SSL_set0_wbio(ssl_, mine_);
}

tls_sealer::~tls_sealer() {
    SSL_set0_wbio(ssl_, own_);  // hands the reference taken above back; frees mine_
}

bool tls_sealer::seal(std::string_view plain) {
    ERR_clear_error();
    while (!plain.empty()) {
        const int chunk = plain.size() > INT_MAX ? INT_MAX : static_cast<int>(plain.size());
        // With SSL_MODE_ENABLE_PARTIAL_WRITE (asio sets it) each call may take one record.
        const int n = SSL_write(ssl_, plain.data(), chunk);
        if (n <= 0) {
            error_ = openssl_error("TLS write");
            return false;
        }
        plain.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

}  // namespace aep
