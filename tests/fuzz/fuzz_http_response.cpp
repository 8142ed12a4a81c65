// HTTP responses from the API: status line, headers (Retry-After, x-request-id) and body, fed
// through the same Beast parser limits the client uses, then classified as a create answer and
// as a Catalog look-up.
#include "aep/batch_api.hpp"

#include <boost/beast/core/buffers_prefix.hpp>
#include <boost/beast/http/parser.hpp>

#include <cstdint>
#include <cstdlib>

namespace http = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(1024 * 1024);
    parser.header_limit(64 * 1024);
    parser.eager(true);
    boost::system::error_code ec;
    parser.put(boost::asio::buffer(data, size), ec);
    if (!ec && !parser.is_done()) parser.put_eof(ec);
    if (ec || !parser.is_done()) return 0;
    const auto& res = parser.get();
    const auto now = std::chrono::system_clock::from_time_t(1700000000);
    const auto r = aep::classify_create_response(res.result_int(), res.body(),
                                                 res[http::field::retry_after], now);
    if (r.outcome == aep::create_result::kind::created && r.batch_id.empty()) std::abort();
    if (r.retry_after && r.retry_after->count() < 0) std::abort();
    (void)aep::body_excerpt(res.body());
    const auto l = aep::parse_catalog_lookup(res.result_int(), res.body(), "ext-1");
    if (l.outcome == aep::lookup_result::kind::found && l.batch.batch_id.empty()) std::abort();
    return 0;
}
