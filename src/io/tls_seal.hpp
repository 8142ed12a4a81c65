// Bulk TLS writes for request bodies: plaintext encrypted straight into one buffer, record
// after record, so that a large body reaches the socket in a few large writes. Through asio's
// ssl::stream each 16 KiB record is a write(2) of its own, with a timer armed and an epoll
// change around it, and its bytes copied twice on the way (tests/bench profiles: a third of
// the daemon's CPU per uploaded GiB).
// While a sealer lives, the connection's SSL writes its records into the sealer's buffer; the
// sealer puts the connection's own write BIO back when it goes. Nothing else may write on the
// connection meanwhile, and nothing may be left unsent in it when the sealer is made (an
// asio write that completed leaves nothing).
// Owns: the swap of the SSL's write BIO, the ciphertext buffer. Threading: the loop.
#pragma once

#include <openssl/ssl.h>

#include <string>
#include <string_view>

namespace aep {

class tls_sealer {
  public:
    explicit tls_sealer(SSL* ssl);
    ~tls_sealer();
    tls_sealer(const tls_sealer&) = delete;
    tls_sealer& operator=(const tls_sealer&) = delete;

    // Encrypts all of `plain` as application data, appended to out(). False when OpenSSL
    // refuses (error() says why); the connection is then unusable.
    bool seal(std::string_view plain);
    // The records sealed since the last clear(), to be written to the socket in order.
    std::string_view out() const { return out_; }
    std::size_t size() const { return out_.size(); }
    void clear() { out_.clear(); }
    const std::string& error() const { return error_; }

  private:
    SSL* ssl_;
    BIO* own_;    // the connection's write BIO, put back at the end
    BIO* mine_;   // writes into out_
    std::string out_;
    std::string error_;
};

}  // namespace aep
