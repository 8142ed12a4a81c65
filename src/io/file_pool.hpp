// The file-I/O threads: blocking spool calls run there, and the caller resumes on the loop.
// Owns: the threads and the hop there and back. Threading: run() is called on the loop; f runs
// on a pool thread, so it touches only what it captured by value or what nobody else touches
// until it returns.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <type_traits>

namespace aep {

class file_pool {
  public:
    explicit file_pool(std::size_t threads) : pool_(threads) {}

    // Runs f on a pool thread and resumes the caller on its own executor with f's result (or
    // its exception). f is copied into the coroutine's frame. Callers pass a named local, never
    // a temporary: GCC 12 mishandles temporaries with destructors inside co_await expressions
    // (they are freed twice), so every coroutine here keeps such arguments in named locals.
    template <class F>
    boost::asio::awaitable<std::invoke_result_t<F>> run(const F& f) {
        return boost::asio::co_spawn(pool_, invoke(f), boost::asio::use_awaitable);
    }

    // Starts f on a pool thread without waiting: `done(std::exception_ptr, result)` is called
    // when it ends, on done's associated executor (bind it to the loop's).
    template <class F, class Done>
    void start(const F& f, Done done) {
        boost::asio::co_spawn(pool_, invoke(f), std::move(done));
    }

    // Waits for the threads to finish what they run (at exit).
    void join() { pool_.join(); }

  private:
    template <class F>
    static boost::asio::awaitable<std::invoke_result_t<F>> invoke(F f) {
        co_return f();
    }

    boost::asio::thread_pool pool_;
};

}  // namespace aep
