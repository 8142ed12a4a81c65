#include "pipeline/file_body.hpp"

#include "io/durable.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <unistd.h>

namespace aep {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;

// A file a little over four pieces long, read through file_body on real file threads, the way
// requests read it: whole, by parts, resent, out of order.
class FileBody : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/aep-body-XXXXXX";
        dir_ = ::mkdtemp(tmpl);
        std::mt19937 gen(7);
        content_.resize(4 * file_body::piece_bytes + 12345);
        for (auto& c : content_) c = static_cast<char>(gen());
        std::ofstream(dir_ / "f.bin", std::ios::binary) << content_;
        auto o = open_data_file(dir_.string(), "f.bin");
        ASSERT_EQ(o.problem, "");
        id_ = o.identity;
    }
    void TearDown() override { fs::remove_all(dir_); }

    // Runs `test` (a coroutine taking the body) to its end on a loop.
    template <class Test>
    void run(Test test) {
        asio::io_context ioc;
        file_pool pool(2);
        const file_body::budget budget = [this](std::size_t n) -> asio::awaitable<bool> {
            budgeted_ += n;
            co_return true;
        };
        bool finished = false;
        std::exception_ptr failed;
        asio::co_spawn(
            ioc,
            [&]() -> asio::awaitable<void> {
                file_body body(ioc.get_executor(), pool, budget, content_.size(), "file f.bin");
                EXPECT_EQ(co_await body.open(dir_.string(), "f.bin", id_), "");
                co_await test(body);
                finished = true;
            },
            [&](std::exception_ptr e) { failed = e; });
        ioc.run();
        pool.join();
        if (failed) std::rethrow_exception(failed);
        EXPECT_TRUE(finished);
    }
    // What the next request would send of [offset, offset + length), all of it.
    static asio::awaitable<std::string> send(file_body& b, std::uint64_t offset, std::uint64_t length) {
        b.reset(offset, length);
        co_return co_await drain(b);
    }
    static asio::awaitable<std::string> drain(file_body& b) {
        std::string got;
        for (;;) {
            const auto piece = co_await b.next();
            if (piece.empty()) break;
            EXPECT_LE(piece.size(), file_body::piece_bytes);
            got += piece;
        }
        co_return got;
    }
    std::string sha_of_content() {
        sha256 h;
        h.update(content_.data(), content_.size());
        return h.hex();
    }

    fs::path dir_;
    std::string content_;
    data_identity id_;
    std::size_t budgeted_ = 0;
};

TEST_F(FileBody, AWholeFileIsSentInPiecesAndHashedOnTheWay) {
    run([this](file_body& b) -> asio::awaitable<void> {
        EXPECT_EQ(co_await send(b, 0, content_.size()), content_);
        co_await b.settle();
        EXPECT_EQ(b.hashed(), content_.size());
        EXPECT_EQ(b.digest(), sha_of_content());
    });
    EXPECT_EQ(budgeted_, content_.size()) << "every byte sent passed the rate limit";
}

TEST_F(FileBody, PartsAndAResendAreHashedOnceInOrder) {
    run([this](file_body& b) -> asio::awaitable<void> {
        const std::uint64_t cut = 600000;
        b.reset(0, cut);
        // Two pieces go, then the connection fails: the part is sent again from its start.
        EXPECT_FALSE((co_await b.next()).empty());
        EXPECT_FALSE((co_await b.next()).empty());
        b.rewind();
        EXPECT_EQ(co_await drain(b), content_.substr(0, cut));
        EXPECT_EQ(co_await send(b, cut, content_.size() - cut), content_.substr(cut));
        co_await b.settle();
        EXPECT_EQ(b.hashed(), content_.size());
        EXPECT_EQ(b.digest(), sha_of_content());
    });
}

TEST_F(FileBody, APartResumedAheadOfTheHashWaitsForTheBytesBeforeIt) {
    run([this](file_body& b) -> asio::awaitable<void> {
        // HEAD said [0, 700000) is missing but [700000, end) arrived: the part after it is sent
        // first, then the missing one. The hash takes the bytes in the file's order all the same.
        const std::uint64_t cut = 700000;
        EXPECT_EQ(co_await send(b, cut, content_.size() - cut), content_.substr(cut));
        co_await b.settle();
        EXPECT_LT(b.hashed(), cut);
        EXPECT_EQ(co_await send(b, 0, cut), content_.substr(0, cut));
        co_await b.settle();
        EXPECT_EQ(b.hashed(), cut) << "the bytes after it were read before their turn";
    });
}

TEST_F(FileBody, AShortRangeWhereALongerPieceWasReadAheadSendsOnlyItsOwnBytes) {
    run([this](file_body& b) -> asio::awaitable<void> {
        // The first piece was read whole when the file was opened; HEAD then says the server
        // holds [100000, ...): the part before it is shorter than a piece.
        EXPECT_EQ(co_await send(b, 0, 100000), content_.substr(0, 100000));
        // A piece read ahead for one range, then a range from the same place that ends sooner.
        b.reset(300000, 700000);
        EXPECT_EQ((co_await b.next()).size(), file_body::piece_bytes);
        EXPECT_EQ(co_await send(b, 300000 + file_body::piece_bytes, 1000),
                  content_.substr(300000 + file_body::piece_bytes, 1000));
    });
}

TEST_F(FileBody, AFileThatShrankAfterItsClaimIsNotSent) {
    run([this](file_body& b) -> asio::awaitable<void> {
        ::truncate((dir_ / "f.bin").c_str(), 1000000);
        bool thrown = false;
        try {
            co_await send(b, 0, content_.size());
        } catch (const spool_error& e) {
            thrown = true;
            EXPECT_NE(std::string(e.what()).find("file f.bin: shorter than at the claim"), std::string::npos)
                << e.what();
        }
        EXPECT_TRUE(thrown);
    });
}

TEST_F(FileBody, AFileChangedBeforeItIsOpenedIsRefused) {
    std::ofstream(dir_ / "f.bin", std::ios::app) << "more";
    asio::io_context ioc;
    file_pool pool(1);
    std::string problem;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            const file_body::budget budget = [](std::size_t) -> asio::awaitable<bool> { co_return true; };
            file_body body(ioc.get_executor(), pool, budget, content_.size(), "file f.bin");
            problem = co_await body.open(dir_.string(), "f.bin", id_);
        },
        asio::detached);
    ioc.run();
    pool.join();
    EXPECT_NE(problem.find("changed since the entry was claimed"), std::string::npos) << problem;
}

}  // namespace
}  // namespace aep
