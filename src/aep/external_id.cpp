#include "aep/external_id.hpp"

#include "io/random_id.hpp"

#include <openssl/evp.h>

#include <cstring>
#include <memory>

namespace aep {

std::string derive_external_id(const file_identity& incoming_dir, const file_identity& file) {
    // SHA-256 over a fixed layout (little-endian integers), truncated to 128 bits.
    unsigned char in[8 + 4 * 8];
    std::memcpy(in, "aepbxid1", 8);
    const std::uint64_t fields[4] = {incoming_dir.ino,
                                     static_cast<std::uint64_t>(incoming_dir.born_ns), file.ino,
                                     static_cast<std::uint64_t>(file.born_ns)};
    for (int i = 0; i < 4; ++i) {
        for (int b = 0; b < 8; ++b)
            in[8 + i * 8 + b] = static_cast<unsigned char>(fields[i] >> (8 * b));
    }
    // The algorithm is fetched once and each thread keeps its context: a one-shot EVP_Digest
    // looks SHA-256 up in OpenSSL 3's provider tables and builds a context every time, which
    // cost several times the hashing itself (one per entry taken).
    static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    thread_local const std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(),
                                                                              EVP_MD_CTX_free);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!sha256 || !ctx || EVP_DigestInit_ex(ctx.get(), sha256, nullptr) != 1 ||
        EVP_DigestUpdate(ctx.get(), in, sizeof in) != 1 ||
        EVP_DigestFinal_ex(ctx.get(), md, &len) != 1 || len < 16) {
        throw spool_error("cannot compute SHA-256 for an externalId");
    }
    return "aepb-" + to_hex(md, 16);
}

std::string new_external_id() { return "aepb-" + random_hex(16); }

}  // namespace aep
