// aep-emulator's entry point: flags to options, then one io_context until SIGTERM/SIGINT.
#include "config/config.hpp"
#include "emulator.hpp"

#include <boost/asio/signal_set.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

namespace {

constexpr const char* usage =
    "usage: aep-emulator --cert FILE --key FILE --client-secret-file FILE [options]\n"
    "  --listen ADDR             address to bind (default 127.0.0.1)\n"
    "  --port N                  port (default 0: the OS chooses)\n"
    "  --port-file FILE          write the bound port here once listening\n"
    "  --plain                   serve plain HTTP (benchmarks only; no --cert/--key)\n"
    "  --client-ca FILE          require client certificates issued by this CA (mTLS)\n"
    "  --client-id ID            the only client accepted (default aep-batchd-test)\n"
    "  --client-secret-file F    its secret (never on the command line)\n"
    "  --org-id ORG              require this x-gw-ims-org-id\n"
    "  --token-lifetime D        lifetime of issued tokens (default 86399s)\n"
    "  --latency D               added to every API answer (default 0ms)\n"
    "  --ims-latency D           added to every token answer (default 0ms)\n"
    "  --catalog-lag D           a batch appears in Catalog look-ups only D after its creation\n"
    "  --fault KIND=P            inject KIND with probability P (0..1 or N%); KIND is one of\n"
    "                            429, 500, 503, reset, reset-after-create, hang, malformed,\n"
    "                            trickle (a 201 head, then one body byte every 100 ms)\n"
    "  --processing-time D       a completed batch is processing for D, then final (200ms)\n"
    "  --abandon-after D         a batch still loading after D is abandoned (default never)\n"
    "  --dataset-outcome DS=K    batches of dataset DS end K: failed (with errors),\n"
    "                            partial:N (success, N failed records), stalled, abandoned\n"
    "  --upload-fault KIND=P     on uploads and COMPLETEs: reset-mid-body (a PUT or PATCH\n"
    "                            reset half-way through its body), reset-after-complete\n"
    "                            (the batch completed, the answer lost), 500, 503, 429\n"
    "  --ims-down                token endpoint answers 503 until POST /emulator/ims-up\n"
    "  --ims-down-for D          token endpoint answers 503 for D after start\n"
    "  --seed N                  random seed (default: random)\n"
    "  --verbose                 log each request to stderr\n"
    "Test hooks: GET /emulator/stats, GET /emulator/batches, GET /emulator/tokens,\n"
    "GET /emulator/requests (arrival time and status of every create),\n"
    "GET /emulator/files (each batch's files: size, sha256, large, complete),\n"
    "POST /emulator/revoke-tokens, POST /emulator/ims-down, POST /emulator/ims-up,\n"
    "POST /emulator/faults (body: 429=10%,...); a datasetId status-NNN is answered with NNN.\n";

bool duration_arg(const char* text, std::chrono::milliseconds& out) {
    auto d = aep::parse_duration(text);
    if (!d) return false;
    out = *d;
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    aep::emu::options o;
    std::string secret_file;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto need = [&](const char* what) -> const char* {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "aep-emulator: %s needs a value\n", what);
                std::exit(64);
            }
            return argv[++i];
        };
        std::chrono::milliseconds d{};
        if (a == "--help") {
            std::fputs(usage, stdout);
            return 0;
        } else if (a == "--listen") {
            o.listen = need("--listen");
        } else if (a == "--port") {
            o.port = static_cast<unsigned short>(std::stoi(need("--port")));
        } else if (a == "--port-file") {
            o.port_file = need("--port-file");
        } else if (a == "--cert") {
            o.cert_file = need("--cert");
        } else if (a == "--key") {
            o.key_file = need("--key");
        } else if (a == "--client-ca") {
            o.client_ca = need("--client-ca");
        } else if (a == "--plain") {
            o.plain = true;
        } else if (a == "--client-id") {
            o.client_id = need("--client-id");
        } else if (a == "--client-secret-file") {
            secret_file = need("--client-secret-file");
        } else if (a == "--org-id") {
            o.org_id = need("--org-id");
        } else if (a == "--token-lifetime" && duration_arg(need(a.c_str()), d)) {
            o.token_lifetime = std::chrono::duration_cast<std::chrono::seconds>(d);
        } else if (a == "--latency" && duration_arg(need(a.c_str()), d)) {
            o.latency = d;
        } else if (a == "--catalog-lag" && duration_arg(need(a.c_str()), d)) {
            o.catalog_lag = d;
        } else if (a == "--ims-latency" && duration_arg(need(a.c_str()), d)) {
            o.ims_latency = d;
        } else if (a == "--fault") {
            std::pair<aep::emu::fault, double> f;
            if (!aep::emu::parse_fault(need("--fault"), f)) {
                std::fprintf(stderr, "aep-emulator: bad --fault value\n");
                return 64;
            }
            o.faults.push_back(f);
        } else if (a == "--processing-time" && duration_arg(need(a.c_str()), d)) {
            o.processing_time = d;
        } else if (a == "--abandon-after" && duration_arg(need(a.c_str()), d)) {
            o.abandon_after = d;
        } else if (a == "--dataset-outcome" || a == "--upload-fault") {
            const std::string v = need(a.c_str());
            const auto eq = v.find('=');
            if (eq == std::string::npos || eq == 0) {
                std::fprintf(stderr, "aep-emulator: %s wants NAME=VALUE\n", a.c_str());
                return 64;
            }
            if (a == "--dataset-outcome") {
                o.dataset_outcomes[v.substr(0, eq)] = v.substr(eq + 1);
            } else {
                std::string p = v.substr(eq + 1);
                double scale = 1;
                if (!p.empty() && p.back() == '%') {
                    p.pop_back();
                    scale = 0.01;
                }
                o.upload_faults.emplace_back(v.substr(0, eq), std::stod(p) * scale);
            }
        } else if (a == "--ims-down-for" && duration_arg(need(a.c_str()), d)) {
            o.ims_down_for = d;
        } else if (a == "--ims-down") {
            o.ims_down = true;
        } else if (a == "--seed") {
            o.seed = std::stoull(need("--seed"));
        } else if (a == "--verbose") {
            o.verbose = true;
        } else {
            std::fprintf(stderr, "aep-emulator: bad argument '%s'\n%s", a.c_str(), usage);
            return 64;
        }
    }
    if ((!o.plain && (o.cert_file.empty() || o.key_file.empty())) || secret_file.empty()) {
        std::fputs(usage, stderr);
        return 64;
    }
    std::ifstream in(secret_file);
    if (!in) {
        std::fprintf(stderr, "aep-emulator: cannot read %s\n", secret_file.c_str());
        return 66;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    o.client_secret = ss.str();
    while (!o.client_secret.empty() &&
           (o.client_secret.back() == '\n' || o.client_secret.back() == '\r')) {
        o.client_secret.pop_back();
    }
    try {
        boost::asio::io_context ioc{1};
        aep::emu::server srv(ioc, o);
        const auto port = srv.start();
        std::printf("aep-emulator listening on %s:%u\n", o.listen.c_str(), port);
        std::fflush(stdout);
        boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
        signals.async_wait([&](auto, int) { ioc.stop(); });
        ioc.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "aep-emulator: %s\n", e.what());
        return 1;
    }
    return 0;
}
