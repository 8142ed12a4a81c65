// aep-emulator: a local stand-in for Adobe IMS and the AEP Batch Ingestion / Catalog APIs over
// TLS, with knobs for token lifetime, latency and injected faults.
// Owns: the emulated endpoints, their validation of requests, the in-memory batch store.
// Does not own: anything of the daemon's; it shares only the library's helpers.
// Threading: one io_context thread; state is unsynchronised by design.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace aep::emu {

enum class fault {
    too_many_requests,   // 429 with Retry-After: 1
    server_error,        // 500
    unavailable,         // 503
    reset,               // connection reset before the batch is created
    reset_after_create,  // the batch is created, then the connection is reset
    hang,                // no answer until the client gives up
    malformed,           // the batch is created, then a 201 with a body that is not JSON
    trickle,             // a 201 head, then the body one byte every 100 ms, never finished
};

struct options {
    std::string listen = "127.0.0.1";
    unsigned short port = 0;  // 0: the OS chooses
    std::string port_file;    // where the chosen port is written (atomically)
    std::string cert_file, key_file;
    std::string client_ca;  // when set, clients must present a certificate issued by this CA
    bool plain = false;     // serve plain HTTP instead of TLS (for benchmarks only)
    std::string client_id = "aep-batchd-test";
    std::string client_secret;  // read from --client-secret-file, never from the command line
    std::string org_id;         // required x-gw-ims-org-id when set; any non-empty one otherwise
    std::chrono::seconds token_lifetime{86399};
    std::chrono::milliseconds latency{0};          // added to every API answer
    std::chrono::milliseconds ims_latency{0};      // added to every token answer
    std::chrono::milliseconds catalog_lag{0};  // a batch shows in Catalog this long after creation
    std::vector<std::pair<fault, double>> faults;  // probability (0..1) of each fault per create
    // The full lifecycle: a completed batch is `processing` this long, then final.
    std::chrono::milliseconds processing_time{200};
    std::chrono::milliseconds abandon_after{0};  // a batch loading this long: abandoned (0: never)
    // Per-dataset outcomes: "failed" (with errors), "partial:N" (success, N failed records),
    // "stalled" (stays stalled), "abandoned"; others succeed.
    std::map<std::string, std::string> dataset_outcomes;
    // Faults on uploads (PUT, PATCH) and COMPLETEs (file and batch): reset-mid-body, 500,
    // 503, 429 (with Retry-After: 1); probability 0..1 each.
    std::vector<std::pair<std::string, double>> upload_faults;
    bool ims_down = false;                      // token endpoint answers 503 until /emulator/ims-up
    std::chrono::milliseconds ims_down_for{0};  // ...or for this long after start
    std::uint64_t seed = 0;                     // 0: random
    bool verbose = false;
};

// Parses "429=0.1", "reset-after-create=5%", ...; false on an unknown kind or value.
bool parse_fault(const std::string& text, std::pair<fault, double>& out);

struct counters {
    std::uint64_t token_requests = 0;
    std::uint64_t tokens_issued = 0;
    std::uint64_t batch_requests = 0;
    std::uint64_t batches_created = 0;
    std::uint64_t batches_aborted = 0;
    std::uint64_t batch_actions = 0;
    std::uint64_t unauthorized = 0;
    std::uint64_t bad_requests = 0;
    std::uint64_t lookups = 0;
    std::uint64_t uploads = 0;          // PUT and PATCH requests
    std::uint64_t upload_bytes = 0;     // body bytes of those accepted
    std::uint64_t batches_completed = 0;
    std::uint64_t status_requests = 0;
    std::uint64_t upload_faults = 0;
    std::uint64_t faults_injected = 0;
    std::uint64_t connections = 0;
    std::uint64_t api_in_flight = 0;      // API requests (not IMS) read and not yet answered
    std::uint64_t max_api_in_flight = 0;  // ... at most, since start
};

class server {
  public:
    server(boost::asio::io_context& ioc, options opts);
    // Binds, writes the port file, and starts accepting. Returns the bound port.
    unsigned short start();

  private:
    boost::asio::awaitable<void> accept_loop();
    template <class Stream>
    boost::asio::awaitable<void> serve(Stream& stream, boost::asio::ip::tcp::socket& raw);
    boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket socket);

    // What an endpoint answers, or which fault it acts out instead.
    struct reply {
        enum class action { answer, reset, hang, trickle } act = action::answer;
        unsigned status = 200;
        std::string body;
        std::vector<std::pair<std::string, std::string>> headers;
        std::chrono::milliseconds delay{0};

        static reply json_reply(unsigned status, const boost::json::value& v);
    };
    reply handle(const std::string& method, const std::string& target,
                 const std::map<std::string, std::string>& headers, const std::string& body);
    reply token(const std::string& body);
    reply create_batch(const std::map<std::string, std::string>& headers, const std::string& body);
    reply lookup(const std::map<std::string, std::string>& headers, const std::string& target);
    reply batch_action(const std::map<std::string, std::string>& headers,
                       const std::string& target);
    bool authorised(const std::map<std::string, std::string>& headers, std::string& why);
    // The full lifecycle (lifecycle.cpp).
    reply file_call(const std::string& method, const std::map<std::string, std::string>& headers,
                    const std::string& target, const std::string& body);
    reply complete_batch(boost::json::object& b);
    reply with_latency(reply r) const {
        r.delay = opts_.latency;
        return r;
    }
    void refresh_status(boost::json::object& b);  // processing -> final, loading -> abandoned
    boost::json::object stored_files() const;     // GET /emulator/files
    // The upload fault to act out for this call, if any ("" for none).
    std::string upload_fault();
    std::string new_batch_id();

    boost::asio::io_context& ioc_;
    options opts_;
    boost::asio::ssl::context tls_;
    boost::asio::ip::tcp::acceptor acceptor_;
    std::mt19937_64 rng_;
    std::map<std::string, std::chrono::steady_clock::time_point> tokens_;  // token -> expiry
    std::vector<std::string> issued_;           // every token ever issued (for leak tests)
    std::vector<boost::json::object> batches_;  // in creation order
    boost::json::array create_log_;  // every create request: {"t_ms", "status"} (0: a fault)
    counters counters_;
    // Each batch's files by "<dataset>/<remote>".
    struct stored_file {
        std::uint64_t size = 0;
        std::string sha256;
        std::uint64_t records = 0;  // newlines in it
        bool large = false, complete = false, overlap = false;
        std::map<std::uint64_t, std::string> parts;  // a large file's, by first byte
        std::uint64_t total = 0;                     // from the parts' Content-Range
    };
    std::map<std::string, std::map<std::string, stored_file>> files_;
    std::map<std::string, std::int64_t> completed_at_;  // batch id -> when COMPLETE came
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace aep::emu
