#include "emulator.hpp"
#include "emu_util.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>

namespace aep::emu {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);


bool parse_fault(const std::string& text, std::pair<fault, double>& out) {
    const auto eq = text.find('=');
    if (eq == std::string::npos) return false;
    const std::string kind = text.substr(0, eq);
    std::string value = text.substr(eq + 1);
    double scale = 1.0;
    if (!value.empty() && value.back() == '%') {
        value.pop_back();
        scale = 0.01;
    }
    try {
        std::size_t used = 0;
        out.second = std::stod(value, &used) * scale;
        if (used != value.size() || out.second < 0 || out.second > 1) return false;
    } catch (...) {
        return false;
    }
    static const std::pair<const char*, fault> kinds[] = {
        {"429", fault::too_many_requests},
        {"500", fault::server_error},
        {"503", fault::unavailable},
        {"reset", fault::reset},
        {"reset-after-create", fault::reset_after_create},
        {"hang", fault::hang},
        {"malformed", fault::malformed},
        {"trickle", fault::trickle},
    };
    for (const auto& [name, f] : kinds) {
        if (kind == name) {
            out.first = f;
            return true;
        }
    }
    return false;
}

server::reply server::reply::json_reply(unsigned status, const json::value& v) {
    reply r;
    r.status = status;
    r.body = json::serialize(v);
    return r;
}

server::server(asio::io_context& ioc, options opts)
    : ioc_(ioc),
      opts_(std::move(opts)),
      tls_(asio::ssl::context::tls_server),
      acceptor_(ioc),
      rng_(opts_.seed ? opts_.seed : std::random_device{}()) {
    if (!opts_.plain) {
        tls_.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                         asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                         asio::ssl::context::no_tlsv1_1);
        tls_.use_certificate_chain_file(opts_.cert_file);
        tls_.use_private_key_file(opts_.key_file, asio::ssl::context::pem);
        if (!opts_.client_ca.empty()) {
            tls_.load_verify_file(opts_.client_ca);
            tls_.set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
        }
    }
}

unsigned short server::start() {
    tcp::endpoint ep(asio::ip::make_address(opts_.listen), opts_.port);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen(asio::socket_base::max_listen_connections);
    const auto port = acceptor_.local_endpoint().port();
    if (!opts_.port_file.empty()) {
        const auto tmp = opts_.port_file + ".tmp";
        {
            std::ofstream out(tmp);
            out << port << "\n";
        }
        std::rename(tmp.c_str(), opts_.port_file.c_str());
    }
    asio::co_spawn(ioc_, accept_loop(), asio::detached);
    return port;
}

asio::awaitable<void> server::accept_loop() {
    while (true) {
        auto [ec, socket] = co_await acceptor_.async_accept(nothrow);
        if (ec) {
            if (ec == asio::error::operation_aborted) co_return;
            continue;
        }
        ++counters_.connections;
        asio::co_spawn(ioc_, session(std::move(socket)), asio::detached);
    }
}

asio::awaitable<void> server::session(tcp::socket socket) {
    socket.set_option(tcp::no_delay(true));
    if (opts_.plain) {
        beast::tcp_stream stream(std::move(socket));
        co_await serve(stream, stream.socket());
        co_return;
    }
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), tls_);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
    auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::server, nothrow);
    if (hec) co_return;
    co_await serve(stream, beast::get_lowest_layer(stream).socket());
}

template <class Stream>
asio::awaitable<void> server::serve(Stream& stream, tcp::socket& raw) {
    beast::flat_buffer buffer;
    while (true) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(1024 * 1024);
        beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(120));
        auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, nothrow);
        if (hec) co_return;
        {
            // A file's bytes (PUT, PATCH) may be up to 512 MB; one of them may meet a reset
            // half-way through its body.
            const auto& h = parser.get();
            const bool upload = (h.method() == http::verb::put || h.method() == http::verb::patch) &&
                                h.target().find("/files/") != beast::string_view::npos;
            if (upload) {
                parser.body_limit(std::uint64_t{600} << 20);
                const auto length = parser.content_length().value_or(0);
                if (length > 1 && !opts_.upload_faults.empty()) {
                    // Decided now, before the body: the fault is acted out half-way through it.
                    bool mid = false;
                    for (const auto& [kind, p] : opts_.upload_faults) {
                        if (kind == "reset-mid-body" &&
                            std::uniform_real_distribution<double>(0, 1)(rng_) < p)
                            mid = true;
                    }
                    if (mid) {
                        ++counters_.upload_faults;
                        while (!parser.is_done() && parser.get().body().size() < length / 2) {
                            auto [pec, pn] = co_await http::async_read_some(stream, buffer, parser, nothrow);
                            if (pec) co_return;
                        }
                        boost::system::error_code ec;
                        raw.set_option(asio::socket_base::linger(true, 0), ec);
                        raw.close(ec);
                        co_return;
                    }
                }
            }
        }
        auto [rec, n] = co_await http::async_read(stream, buffer, parser, nothrow);
        if (rec) co_return;
        auto req = parser.release();
        // How many API requests the client has out at once (answered or abandoned: the guard
        // ends with this iteration or the session).
        struct in_flight_guard {
            counters* c = nullptr;
            ~in_flight_guard() {
                if (c) --c->api_in_flight;
            }
        } in_flight;
        if (req.target().starts_with("/data/")) {
            in_flight.c = &counters_;
            counters_.max_api_in_flight =
                std::max(counters_.max_api_in_flight, ++counters_.api_in_flight);
        }
        std::map<std::string, std::string> headers;
        for (const auto& f : req) {
            std::string name(f.name_string());
            for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            headers[name] = std::string(f.value());
        }
        reply r = handle(std::string(req.method_string()), std::string(req.target()), headers,
                         req.body());
        if (opts_.verbose) {
            std::cerr << "emulator: " << req.method_string() << " " << req.target() << " -> "
                      << (r.act == reply::action::answer ? std::to_string(r.status) : "fault")
                      << "\n";
        }
        if (r.delay.count() > 0) {
            asio::steady_timer t(ioc_);
            t.expires_after(r.delay);
            co_await t.async_wait(nothrow);
        }
        if (r.act == reply::action::reset) {
            // SO_LINGER 0 makes close() send RST: the client sees a reset, not a clean close.
            boost::system::error_code ec;
            raw.set_option(asio::socket_base::linger(true, 0), ec);
            raw.close(ec);
            co_return;
        }
        if (r.act == reply::action::trickle) {
            // A slow-loris answer: a promising head, then a byte at a time, for ever.
            const std::string head =
                "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                "Content-Length: 1000000\r\n\r\n{";
            beast::get_lowest_layer(stream).expires_after(std::chrono::minutes(10));
            auto [hec, hn] = co_await asio::async_write(stream, asio::buffer(head), nothrow);
            for (int i = 0; !hec && i < 6000; ++i) {
                asio::steady_timer t(ioc_);
                t.expires_after(std::chrono::milliseconds(100));
                co_await t.async_wait(nothrow);
                auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(" ", 1), nothrow);
                if (wec) break;
            }
            co_return;
        }
        if (r.act == reply::action::hang) {
            asio::steady_timer t(ioc_);
            t.expires_after(std::chrono::minutes(10));
            co_await t.async_wait(nothrow);
            co_return;
        }
        http::response<http::string_body> res{static_cast<http::status>(r.status), req.version()};
        res.set(http::field::server, "aep-emulator");
        res.set(http::field::content_type, "application/json");
        res.set("x-request-id", std::to_string(rng_()));
        for (const auto& [k, v] : r.headers) res.set(k, v);
        res.body() = std::move(r.body);
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
        auto [wec, wn] = co_await http::async_write(stream, res, nothrow);
        if (wec || !res.keep_alive()) co_return;
    }
}

server::reply server::handle(const std::string& method, const std::string& target,
                             const std::map<std::string, std::string>& headers,
                             const std::string& body) {
    const auto q = target.find('?');
    const std::string path = target.substr(0, q);
    if (method == "POST" && path == "/ims/token/v3") return token(body);
    if (method == "POST" && path == "/data/foundation/import/batches") {
        auto r = create_batch(headers, body);
        const auto t = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - started_)
                           .count();
        // Wall-clock arrival in microseconds, for latency measurements across processes
        // (tests/bench: from a rename into incoming/ to the request reaching the server).
        const auto wall_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
        // The externalId each create carried (tests count the creates of every entry).
        std::string xid;
        boost::system::error_code ec;
        const auto parsed = json::parse(body, ec);
        if (!ec && parsed.is_object()) {
            if (const auto* x = parsed.as_object().if_contains("externalId"); x && x->is_string())
                xid = std::string(x->get_string());
        }
        create_log_.push_back(
            json::object{{"t_ms", t},
                         {"wall_us", wall_us},
                         {"externalId", xid},
                         {"status", r.act == reply::action::answer ? r.status : 0u}});
        return r;
    }
    if (path.rfind("/data/foundation/import/batches/", 0) == 0 &&
        path.find("/datasets/") != std::string::npos) {
        return with_latency(file_call(method, headers, target, body));
    }
    if (method == "POST" && path.rfind("/data/foundation/import/batches/", 0) == 0) {
        return batch_action(headers, target);
    }
    if (method == "GET" && path.rfind("/data/foundation/catalog/batches", 0) == 0) {
        return lookup(headers, target);
    }
    if (method == "GET" && path == "/emulator/stats") {
        json::object o{{"token_requests", counters_.token_requests},
                       {"tokens_issued", counters_.tokens_issued},
                       {"batch_requests", counters_.batch_requests},
                       {"batches_created", counters_.batches_created},
                       {"batches_aborted", counters_.batches_aborted},
                       {"batch_actions", counters_.batch_actions},
                       {"unauthorized", counters_.unauthorized},
                       {"bad_requests", counters_.bad_requests},
                       {"lookups", counters_.lookups},
                       {"faults_injected", counters_.faults_injected},
                       {"connections", counters_.connections},
                       {"api_in_flight", counters_.api_in_flight},
                       {"max_api_in_flight", counters_.max_api_in_flight},
                       {"uploads", counters_.uploads},
                       {"upload_bytes", counters_.upload_bytes},
                       {"batches_completed", counters_.batches_completed},
                       {"status_requests", counters_.status_requests},
                       {"upload_faults", counters_.upload_faults}};
        return reply::json_reply(200, o);
    }
    if (method == "GET" && path == "/emulator/files") {
        return reply::json_reply(200, stored_files());
    }
    if (method == "GET" && path == "/emulator/batches") {
        // Each with `listed`: whether Catalog's look-ups list it yet (--catalog-lag).
        json::array a;
        const auto now = now_ms();
        for (auto& b : batches_) {
            refresh_status(b);
            json::object copy = b;
            copy["listed"] = now - b.at("created").as_int64() >= opts_.catalog_lag.count();
            a.push_back(std::move(copy));
        }
        return reply::json_reply(200, a);
    }
    if (method == "GET" && path == "/emulator/requests") {
        return reply::json_reply(200, create_log_);
    }
    if (method == "GET" && path == "/emulator/tokens") {
        // Every token issued, so leak tests can search outputs for them.
        json::array a;
        for (const auto& t : issued_) a.push_back(json::string(t));
        return reply::json_reply(200, a);
    }
    if (method == "POST" && path == "/emulator/revoke-tokens") {
        tokens_.clear();
        return reply::json_reply(200, json::object{{"revoked", true}});
    }
    if (method == "POST" && path == "/emulator/ims-down") {
        opts_.ims_down = true;
        return reply::json_reply(200, json::object{{"ims_down", true}});
    }
    if (method == "POST" && path == "/emulator/ims-up") {
        opts_.ims_down = false;
        return reply::json_reply(200, json::object{{"ims_down", false}});
    }
    if (method == "POST" && path == "/emulator/faults") {
        // Replaces the fault mix at run time: body is "429=10%,reset=5%" (empty clears).
        opts_.faults.clear();
        std::string_view rest = body;
        while (!rest.empty()) {
            auto comma = rest.find(',');
            std::pair<fault, double> f;
            if (!parse_fault(std::string(rest.substr(0, comma)), f)) {
                return reply::json_reply(400, error_body("400", "bad fault spec"));
            }
            opts_.faults.push_back(f);
            if (comma == std::string_view::npos) break;
            rest.remove_prefix(comma + 1);
        }
        return reply::json_reply(200, json::object{{"faults", opts_.faults.size()}});
    }
    return reply::json_reply(404, error_body("404", "no such resource: " + path));
}

server::reply server::token(const std::string& body) {
    ++counters_.token_requests;
    if (opts_.ims_down || std::chrono::steady_clock::now() - started_ < opts_.ims_down_for) {
        auto r = reply::json_reply(503, json::object{{"error", "service_unavailable"}});
        r.delay = opts_.ims_latency;
        return r;
    }
    auto form = parse_form(body);
    reply r;
    if (form["grant_type"] != "client_credentials") {
        r = reply::json_reply(400, json::object{{"error", "unsupported_grant_type"}});
    } else if (form["client_id"] != opts_.client_id ||
               form["client_secret"] != opts_.client_secret) {
        r = reply::json_reply(400,
                              json::object{{"error", "invalid_client"},
                                           {"error_description", "invalid client credentials"}});
    } else if (form["scope"].empty()) {
        r = reply::json_reply(400, json::object{{"error", "invalid_scope"}});
    } else {
        std::string tok = "emu-";
        static const char* hex = "0123456789abcdef";
        for (int i = 0; i < 48; ++i) tok += hex[rng_() % 16];
        tokens_[tok] = std::chrono::steady_clock::now() + opts_.token_lifetime;
        issued_.push_back(tok);
        ++counters_.tokens_issued;
        r = reply::json_reply(200, json::object{{"access_token", tok},
                                                {"token_type", "bearer"},
                                                {"expires_in", opts_.token_lifetime.count()}});
    }
    r.delay = opts_.ims_latency;
    return r;
}

bool server::authorised(const std::map<std::string, std::string>& headers, std::string& why) {
    const auto auth = header(headers, "authorization");
    if (auth.rfind("Bearer ", 0) != 0) {
        why = "missing Authorization: Bearer";
        return false;
    }
    auto it = tokens_.find(auth.substr(7));
    if (it == tokens_.end() || std::chrono::steady_clock::now() >= it->second) {
        why = "Oauth token is not valid";
        return false;
    }
    if (header(headers, "x-api-key") != opts_.client_id) {
        why = "x-api-key does not match the client";
        return false;
    }
    const auto org = header(headers, "x-gw-ims-org-id");
    if (org.empty() || (!opts_.org_id.empty() && org != opts_.org_id)) {
        why = "x-gw-ims-org-id missing or wrong";
        return false;
    }
    if (header(headers, "x-sandbox-name").empty()) {
        why = "x-sandbox-name missing";
        return false;
    }
    return true;
}

std::string server::new_batch_id() {
    static const char* alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";  // Crockford, like ULIDs
    std::string id;
    for (int i = 0; i < 26; ++i) id += alphabet[rng_() % 32];
    return id;
}

server::reply server::create_batch(const std::map<std::string, std::string>& headers,
                                   const std::string& body) {
    ++counters_.batch_requests;
    std::string why;
    auto fail = [&](unsigned status, const std::string& code, const std::string& msg) {
        if (status == 401) ++counters_.unauthorized;
        if (status == 400) ++counters_.bad_requests;
        auto r = reply::json_reply(status, error_body(code, msg));
        r.delay = opts_.latency;
        return r;
    };
    if (!authorised(headers, why)) return fail(401, "401013", why);
    if (header(headers, "content-type").rfind("application/json", 0) != 0) {
        return fail(415, "415", "content-type must be application/json");
    }
    if (header(headers, "accept") != "application/json") {
        return fail(406, "406", "accept must be application/json");
    }

    // The body against IngestBatch in the official spec.
    boost::system::error_code ec;
    auto jv = json::parse(body, ec);
    if (ec || !jv.is_object()) return fail(400, "400", "body is not a JSON object");
    const auto& o = jv.as_object();
    for (const auto& kv : o) {
        if (kv.key() != "datasetId" && kv.key() != "externalId" && kv.key() != "inputFormat" &&
            kv.key() != "replay" && kv.key() != "tags") {
            return fail(400, "400", "unknown property " + std::string(kv.key()));
        }
    }
    const auto* ds = o.if_contains("datasetId");
    if (!ds || !ds->is_string() || ds->get_string().empty()) {
        return fail(400, "400", "datasetId is required");
    }
    const auto* fmt = o.if_contains("inputFormat");
    if (!fmt || !fmt->is_object()) return fail(400, "400", "inputFormat is required");
    const auto* f = fmt->get_object().if_contains("format");
    if (!f || !f->is_string() ||
        (f->get_string() != "JSON" && f->get_string() != "Parquet" && f->get_string() != "CSV")) {
        return fail(400, "400", "inputFormat.format must be JSON, Parquet or CSV");
    }
    if (const auto* m = fmt->get_object().if_contains("isMultiLineJson"); m && !m->is_bool()) {
        return fail(400, "400", "inputFormat.isMultiLineJson must be a boolean");
    }
    std::string external_id;
    if (const auto* x = o.if_contains("externalId")) {
        if (!x->is_string()) return fail(400, "400", "externalId must be a string");
        external_id = std::string(x->get_string());
    }
    json::object tags;
    if (const auto* t = o.if_contains("tags")) {
        if (!t->is_object()) return fail(400, "400", "tags must be an object");
        for (const auto& kv : t->get_object()) {
            if (!kv.value().is_array()) return fail(400, "400", "tags values must be arrays");
            for (const auto& item : kv.value().get_array()) {
                if (!item.is_string()) return fail(400, "400", "tags items must be strings");
            }
            tags[kv.key()] = kv.value();
        }
    }

    // Test hook: datasetId "status-NNN" answers NNN (for permanent-error tests).
    if (ds->get_string().size() == 10 && ds->get_string().starts_with("status-")) {
        const unsigned forced = static_cast<unsigned>(std::atoi(ds->get_string().c_str() + 7));
        if (forced >= 400 && forced <= 599) {
            return fail(forced, std::to_string(forced), "forced by the datasetId test hook");
        }
    }

    // Injected faults, drawn once per valid request.
    std::optional<fault> injected;
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    double draw = unit(rng_);
    for (const auto& [kind, p] : opts_.faults) {
        if (draw < p) {
            injected = kind;
            break;
        }
        draw -= p;
    }
    if (injected) ++counters_.faults_injected;
    if (injected == fault::too_many_requests) {
        auto r = fail(429, "429", "Too many requests");
        r.headers.push_back({"Retry-After", "1"});
        return r;
    }
    if (injected == fault::server_error) return fail(500, "500", "Internal server error");
    if (injected == fault::unavailable) return fail(503, "503", "Service unavailable");
    if (injected == fault::reset) {
        reply r;
        r.act = reply::action::reset;
        r.delay = opts_.latency;
        return r;
    }
    if (injected == fault::hang || injected == fault::trickle) {
        reply r;
        r.act = injected == fault::hang ? reply::action::hang : reply::action::trickle;
        return r;
    }

    const std::string id = new_batch_id();
    const auto now = now_ms();
    tags["acp_producer"] = json::array{"aep-emulator"};
    tags["acp_stagePath"] = json::array{"acp_foundation_push/stage/" + id};
    json::object batch{
        {"id", id},
        {"imsOrg", header(headers, "x-gw-ims-org-id")},
        {"status", "loading"},
        {"created", now},
        {"updated", now},
        {"createdClient", opts_.client_id},
        {"createdUser", opts_.client_id + "@AdobeID"},
        {"updatedUser", opts_.client_id + "@AdobeID"},
        {"relatedObjects",
         json::array{json::object{{"type", "dataSet"}, {"id", ds->get_string()}}}},
        {"version", "1.0.0"},
        {"tags", tags},
        {"externalId", external_id.empty() ? id : external_id},
        {"inputFormat", *fmt},
        {"sandbox", header(headers, "x-sandbox-name")},
    };
    batches_.push_back(batch);
    ++counters_.batches_created;
    if (injected == fault::reset_after_create) {
        reply r;
        r.act = reply::action::reset;
        r.delay = opts_.latency;
        return r;
    }
    if (injected == fault::malformed) {
        reply r;
        r.status = 201;
        r.body = "{\"id\": \"" + id + "\", \"status\": \"loading\"";  // truncated JSON
        r.delay = opts_.latency;
        return r;
    }
    batch.erase("sandbox");
    auto r = reply::json_reply(201, batch);
    r.delay = opts_.latency;
    return r;
}

// POST /data/foundation/import/batches/{id}?action=ABORT (the only action emulated): a batch
// still loading becomes aborted; anything else is refused with 400, as the spec says.
server::reply server::batch_action(const std::map<std::string, std::string>& headers,
                                   const std::string& target) {
    ++counters_.batch_actions;
    std::string why;
    if (!authorised(headers, why)) return reply::json_reply(401, error_body("401013", why));
    const auto q = target.find('?');
    const std::string path = target.substr(0, q);
    std::map<std::string, std::string> query;
    if (q != std::string::npos) query = parse_form(target.substr(q + 1));
    const std::string id = path.substr(std::string("/data/foundation/import/batches/").size());
    const auto action = query.find("action");
    if (action == query.end() || (action->second != "ABORT" && action->second != "COMPLETE")) {
        return reply::json_reply(400, error_body("400", "only action=ABORT and COMPLETE are emulated"));
    }
    const std::string sandbox = header(headers, "x-sandbox-name");
    for (auto& b : batches_) {
        if (b.at("id").as_string() != id || b.at("sandbox").as_string() != sandbox) continue;
        if (action->second == "COMPLETE") return with_latency(complete_batch(b));
        refresh_status(b);
        if (b.at("status").as_string() != "loading") {
            return reply::json_reply(400, error_body("400", "only a loading batch can be aborted"));
        }
        b["status"] = "aborted";
        b["updated"] = now_ms();
        ++counters_.batches_aborted;
        json::object copy = b;
        copy.erase("sandbox");
        auto r = reply::json_reply(200, copy);
        r.delay = opts_.latency;
        return r;
    }
    return reply::json_reply(404, error_body("404", "batch not found"));
}

server::reply server::lookup(const std::map<std::string, std::string>& headers,
                             const std::string& target) {
    ++counters_.lookups;
    std::string why;
    if (!authorised(headers, why)) {
        ++counters_.unauthorized;
        return reply::json_reply(401, error_body("401013", why));
    }
    const auto q = target.find('?');
    const std::string path = target.substr(0, q);
    std::map<std::string, std::string> query;
    if (q != std::string::npos) query = parse_form(target.substr(q + 1));
    const std::string prefix = "/data/foundation/catalog/batches";
    json::object out;
    const std::string sandbox = header(headers, "x-sandbox-name");
    for (auto& b : batches_) refresh_status(b);
    if (path.size() > prefix.size() + 1) {
        ++counters_.status_requests;
        const std::string id = path.substr(prefix.size() + 1);
        for (const auto& b : batches_) {
            if (b.at("id").as_string() == id && b.at("sandbox").as_string() == sandbox) {
                json::object copy = b;
                copy.erase("sandbox");
                out[id] = copy;
            }
        }
        if (out.empty()) return reply::json_reply(404, error_body("404", "batch not found"));
    } else {
        const auto x = query.find("externalId");
        const auto now = now_ms();
        for (const auto& b : batches_) {
            if (b.at("sandbox").as_string() != sandbox) continue;
            // Catalog lags behind the batch store: a batch shows only catalog_lag after creation.
            if (now - b.at("created").as_int64() < opts_.catalog_lag.count()) continue;
            if (x != query.end() && b.at("externalId").as_string() != x->second) continue;
            json::object copy = b;
            copy.erase("sandbox");
            out[b.at("id").as_string()] = copy;
        }
    }
    auto r = reply::json_reply(200, out);
    r.delay = opts_.latency;
    return r;
}

}  // namespace aep::emu
