#include "pipeline/file_body.hpp"

#include "io/data_files.hpp"
#include "io/durable.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <exception>

namespace aep {

namespace asio = boost::asio;

// What the reads on the file threads share with the body. Only one read runs at a time, and
// the loop touches the hash and the read's fields only while none runs.
struct file_body::shared {
    shared(asio::any_io_executor ex, std::string w) : what(std::move(w)), wake(ex) {
        wake.expires_at(std::chrono::steady_clock::time_point::max());
    }
    // Reads [at, at + want) into buf[slot], hashing it when it continues the bytes hashed.
    // On a file thread.
    std::size_t read(std::uint64_t at, std::size_t want, int slot) {
        char* p = buf[static_cast<std::size_t>(slot)].get();
        const std::size_t n = read_at(fd.get(), at, p, want, what);
        // The pieces hashed are the file's bytes in order, each once: a piece read again (a
        // resend) or out of order (a part resumed after HEAD) is not.
        if (at == hashed) {
            hash.update(p, n);
            hashed += n;
        }
        return n;
    }
    // Marks the read of [from, from + n) into buf[into] as issued; makes the buffer when needed.
    void issue(std::uint64_t from, std::size_t n, int into) {
        in_flight = true;
        done = false;
        at = from;
        want = n;
        slot = into;
        got = 0;
        error = nullptr;
        auto& b = buf[static_cast<std::size_t>(into)];
        if (!b) b.reset(new char[buf_bytes]);
    }
    void end(std::exception_ptr e, std::size_t n) {
        in_flight = false;
        done = true;
        got = n;
        error = e;
        wake.cancel();
    }
    unique_fd fd;  // the body's, also kept by a read in flight
    const std::string what;
    sha256 hash;
    std::uint64_t hashed = 0;
    // Made when first read into, as large as a piece of this file can be (not zeroed: a
    // small file's upload must not pay for clearing buffers it does not use).
    std::array<std::unique_ptr<char[]>, 2> buf;
    std::size_t buf_bytes = 0;
    // The read issued last: where, into which buffer, and how it ended.
    bool in_flight = false, done = false;
    std::uint64_t at = 0;
    std::size_t want = 0;
    int slot = -1;
    std::size_t got = 0;
    std::exception_ptr error;
    asio::steady_timer wake;  // cancelled when a read ends
};

file_body::file_body(asio::any_io_executor ex, file_pool& files, budget take, std::uint64_t size,
                     std::string what)
    : files_(files), budget_(std::move(take)), st_(std::make_shared<shared>(ex, std::move(what))) {
    st_->buf_bytes = static_cast<std::size_t>(std::min<std::uint64_t>(piece_bytes, size));
}

asio::awaitable<std::string> file_body::open(const std::string& data_dir,
                                             const std::string& relative,
                                             const data_identity& claimed) {
    auto st = st_;
    const std::size_t want = st->buf_bytes;
    st->issue(0, want, 0);
    const auto open_and_read = [st, data_dir, relative, claimed, want]() -> std::string {
        auto opened = reopen_data_file(data_dir, relative, claimed);
        if (!opened.problem.empty()) return opened.problem;
        st->fd = std::move(opened.fd);
        st->got = st->read(0, want, 0);
        return std::string();
    };
    std::string problem;
    try {
        problem = co_await files_.run(open_and_read);
    } catch (...) {
        st->end(std::current_exception(), 0);
        co_return std::string();  // the read's error is thrown by the first next()
    }
    st->end(nullptr, st->got);
    co_return problem;
}

int file_body::fd() const { return st_->fd.get(); }

file_body::~file_body() = default;

void file_body::reset(std::uint64_t offset, std::uint64_t length) {
    offset_ = start_ = offset;
    end_ = offset + length;
}

void file_body::rewind() { offset_ = start_; }

std::uint64_t file_body::hashed() const { return st_->hashed; }

std::string file_body::digest() { return st_->hash.hex(); }

void file_body::start_read(std::uint64_t at, std::size_t want, int slot) {
    auto st = st_;
    st->issue(at, want, slot);
    const auto read = [st, at, want, slot] { return st->read(at, want, slot); };
    const auto ended = [st](std::exception_ptr e, std::size_t n) { st->end(e, n); };
    files_.start(read, asio::bind_executor(st->wake.get_executor(), ended));
}

asio::awaitable<void> file_body::settle() {
    while (st_->in_flight) {
        co_await st_->wake.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

asio::awaitable<std::string_view> file_body::next() {
    if (offset_ >= end_) co_return std::string_view();
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(piece_bytes, end_ - offset_));
    co_await settle();
    // The read ahead is used when it is the piece wanted now, of the length wanted now; else
    // (a resend, a new range, a range that ends within a piece) this piece is read now, into
    // the buffer not handed out last.
    if (!(st_->done && st_->at == offset_ && st_->want == want && st_->slot != given_)) {
        start_read(offset_, want, given_ == 0 ? 1 : 0);
        co_await settle();
    }
    st_->done = false;
    if (st_->error) std::rethrow_exception(st_->error);
    const std::size_t n = st_->got;
    if (n < want) throw spool_error(st_->what + ": shorter than at the claim (it changed)");
    given_ = st_->slot;
    offset_ += n;
    if (offset_ < end_) {
        start_read(offset_, static_cast<std::size_t>(std::min<std::uint64_t>(piece_bytes, end_ - offset_)),
                   given_ == 0 ? 1 : 0);
    }
    if (!co_await budget_(n)) throw spool_error(st_->what + ": not sent: stopping");
    co_return std::string_view(st_->buf[static_cast<std::size_t>(given_)].get(), n);
}

}  // namespace aep
