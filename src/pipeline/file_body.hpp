// One data file's bytes as request bodies: a range per request (the whole file for a PUT, a
// part for a PATCH), read on the file threads in pieces and hashed there on the way, with the
// next piece read (and hashed) while the one before it is encrypted and sent. The loop thread
// then only seals and writes; the file threads read and hash (SHA-256 alone costs about as
// much CPU per byte as TLS and TCP together: docs/benchmarks.md).
// Owns: the two piece buffers, the read in flight, the running SHA-256 of the file's bytes in
// order. Does not own: the descriptor's opening (io/data_files) or what the requests are
// (policy/file_upload). Threading: the loop; each read runs on the file pool and touches only
// the shared state, one read at a time.
#pragma once

#include "io/data_files.hpp"
#include "io/file_pool.hpp"
#include "io/https_client.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace aep {

class file_body : public body_source {
  public:
    // Waits until `bytes` more may leave (upload.max_rate: api_channel::upload_budget); false
    // when the daemon stops.
    using budget = std::function<boost::asio::awaitable<bool>(std::size_t bytes)>;

    // A file of `size` bytes, for requests sent on `ex`; `what` names it in errors.
    file_body(boost::asio::any_io_executor ex, file_pool& files, budget take, std::uint64_t size,
              std::string what);
    ~file_body() override;
    file_body(const file_body&) = delete;
    file_body& operator=(const file_body&) = delete;

    // Opens `relative` beneath `data_dir` and checks it against its claim (io/data_files),
    // and reads its first piece in the same trip to the file threads. "" or why not.
    boost::asio::awaitable<std::string> open(const std::string& data_dir,
                                             const std::string& relative,
                                             const data_identity& claimed);
    int fd() const;

    // The range the next request sends.
    void reset(std::uint64_t offset, std::uint64_t length);
    // Waits for a read still in flight (after a request that failed half-way), so that
    // hashed() and digest() are final.
    boost::asio::awaitable<void> settle();
    // The bytes [0, hashed()) have gone into digest(), each once and in order: every piece
    // read that continued them, whichever request it was read for.
    std::uint64_t hashed() const;
    std::string digest();

    boost::asio::awaitable<std::string_view> next() override;
    void rewind() override;

    static constexpr std::size_t piece_bytes = 256 * 1024;

  private:
    struct shared;
    void start_read(std::uint64_t at, std::size_t want, int slot);

    file_pool& files_;
    budget budget_;
    std::shared_ptr<shared> st_;
    std::uint64_t offset_ = 0, start_ = 0, end_ = 0;
    int given_ = -1;  // the buffer the last next() returned: in use until the next call
};

}  // namespace aep
