// CurlTransport against real HTTP and HTTPS servers on 127.0.0.1.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "dcops/http/client.hpp"
#include "dcops/tls/certificates.hpp"

namespace dcops::http {
namespace {

using std::chrono::milliseconds;

// An httplib server on 127.0.0.1:<ephemeral>, running on its own thread until destroyed.
class LocalServer {
 public:
  explicit LocalServer(std::unique_ptr<httplib::Server> server) : server_(std::move(server)) {
    port_ = server_->bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    // httplib 0.11 has no wait_until_ready(): wait for its own flag (TOOLCHAIN.md).
    while (!server_->is_running()) std::this_thread::yield();
  }
  ~LocalServer() {
    server_->stop();
    thread_.join();
  }
  httplib::Server& server() { return *server_; }
  std::string Url(const std::string& scheme, const std::string& path) const {
    return scheme + "://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  std::thread thread_;
};

struct Pem {
  X509* cert = nullptr;
  EVP_PKEY* key = nullptr;
  explicit Pem(const tls::KeyPair& pair) {
    BIO* b = BIO_new_mem_buf(pair.certificate_pem.data(), static_cast<int>(pair.certificate_pem.size()));
    cert = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
    BIO_free(b);
    b = BIO_new_mem_buf(pair.private_key_pem.data(), static_cast<int>(pair.private_key_pem.size()));
    key = PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr);
    BIO_free(b);
  }
  ~Pem() {
    X509_free(cert);
    EVP_PKEY_free(key);
  }
};

std::unique_ptr<httplib::Server> TlsServer(const tls::KeyPair& pair) {
  Pem pem(pair);
  return std::make_unique<httplib::SSLServer>(pem.cert, pem.key);  // copies both
}

ClientOptions Quick() {
  ClientOptions o;
  o.connect_timeout = milliseconds(2000);
  o.timeout = milliseconds(5000);
  o.retry.max_attempts = 1;
  return o;
}

TEST_CASE("Requests carry method, headers, body and basic auth, responses come back whole",
          "[http][curl]") {
  LocalServer local(std::make_unique<httplib::Server>());
  local.server().Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
    res.set_header("X-Seen-Auth", req.get_header_value("Authorization"));
    res.set_header("X-Seen-Custom", req.get_header_value("X-Custom"));
    res.status = 201;
    res.set_content("got:" + req.body, "application/json");
  });
  CurlTransport transport;
  auto options = Quick();
  Request req;
  req.method = Method::kPost;
  req.url = local.Url("http", "/echo");
  req.headers = {{"X-Custom", "1"}, {"Content-Type", "application/json"}};
  req.body = R"({"ResetType":"On"})";
  req.basic_auth = BasicAuth{"root", "calvin"};
  auto r = transport.Send(req, options);
  REQUIRE(r.ok());
  CHECK(r->status == 201);
  CHECK(r->body == R"(got:{"ResetType":"On"})");
  CHECK(r->Header("x-seen-auth") == "Basic cm9vdDpjYWx2aW4=");
  CHECK(r->Header("X-Seen-Custom") == "1");
  CHECK(r->Header("content-type") == "application/json");
}

TEST_CASE("A multipart body streams its file part from disk, and a missing file is an error", "[http][curl]") {
  LocalServer local(std::make_unique<httplib::Server>());
  local.server().Post("/upload", [](const httplib::Request& req, httplib::Response& res) {
    const auto params = req.get_file_value("UpdateParameters");
    const auto file = req.get_file_value("UpdateFile");
    res.set_content(params.content_type + "|" + params.content + "|" + file.filename + "|" + file.content_type + "|" +
                        std::to_string(file.content.size()) + "|" + file.content.substr(0, 2),
                    "text/plain");
  });
  const std::string path = (std::filesystem::temp_directory_path() / "dcops-upload-test.bin").string();
  {
    std::ofstream out(path, std::ios::binary);
    out << "MZ" << std::string(300000, 'x');  // larger than one read
  }
  CurlTransport transport;
  Request req;
  req.method = Method::kPost;
  req.url = local.Url("http", "/upload");
  req.form = {{"UpdateParameters", "application/json", R"({"Targets":[]})", "", ""},
              {"UpdateFile", "application/octet-stream", "", path, "BIOS_1.2.3.EXE"}};
  auto r = transport.Send(req, Quick());
  REQUIRE(r.ok());
  CHECK(r->body == R"(application/json|{"Targets":[]}|BIOS_1.2.3.EXE|application/octet-stream|300002|MZ)");
  std::filesystem::remove(path);
  auto missing = transport.Send(req, Quick());
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == "http.file");
}

TEST_CASE("An iDRAC8 that speaks only TLS 1.0 is refused by default and reached with the legacy option", "[http][curl][tls]") {
  auto pair = tls::SelfSigned({"idrac8", {}, {"127.0.0.1"}, 30, false});
  REQUIRE(pair.ok());
  auto server = TlsServer(*pair);
  SSL_CTX* ctx = static_cast<httplib::SSLServer*>(server.get())->ssl_context();
  REQUIRE(SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION) == 1);
  REQUIRE(SSL_CTX_set_max_proto_version(ctx, TLS1_VERSION) == 1);
  SSL_CTX_set_security_level(ctx, 0);
  REQUIRE(SSL_CTX_set_cipher_list(ctx, "DEFAULT@SECLEVEL=0") == 1);
  LocalServer local(std::move(server));
  local.server().Get("/redfish/v1", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{}", "application/json");
  });
  CurlTransport transport;
  Request req;
  req.url = local.Url("https", "/redfish/v1");
  auto options = Quick();
  options.tls.pinned_sha256 = *tls::Sha256Fingerprint(pair->certificate_pem);

  auto modern = transport.Send(req, options);
  REQUIRE_FALSE(modern.ok());
  CHECK(modern.error().code == "http.tls");

  TlsOptions legacy = options.tls;
  legacy.legacy = true;
  req.tls = legacy;  // per target: this BMC only
  auto reached = transport.Send(req, options);
  REQUIRE(reached.ok());
  CHECK(reached->status == 200);
  // The legacy setting never leaks to other targets: the same BMC without it is refused again.
  req.tls.reset();
  CHECK_FALSE(transport.Send(req, options).ok());
}

TEST_CASE("TLS: verification on by default, an explicit opt-out, and pinning", "[http][curl][tls]") {
  auto pair = tls::SelfSigned({"bmc", {}, {"127.0.0.1"}, 30, false});
  REQUIRE(pair.ok());
  LocalServer local(TlsServer(*pair));
  std::atomic<int> requests{0};
  local.server().Get("/redfish/v1", [&](const httplib::Request&, httplib::Response& res) {
    ++requests;
    res.set_content("{}", "application/json");
  });
  CurlTransport transport;
  Request req;
  req.url = local.Url("https", "/redfish/v1");
  req.basic_auth = BasicAuth{"root", "calvin"};

  auto verified = transport.Send(req, Quick());
  REQUIRE_FALSE(verified.ok());
  CHECK(verified.error().code == "http.tls");
  CHECK(verified.error().message.find("pin its certificate or opt out") != std::string::npos);

  auto opted_out = Quick();
  opted_out.tls.verify = false;
  CHECK(transport.Send(req, opted_out)->status == 200);

  auto pinned = Quick();
  pinned.tls.pinned_sha256 = *tls::Sha256Fingerprint(pair->certificate_pem);
  CHECK(transport.Send(req, pinned)->status == 200);
  const int before = requests;

  auto wrong_pin = Quick();
  wrong_pin.tls.pinned_sha256 = std::string(64, 'a');
  auto refused = transport.Send(req, wrong_pin);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == "http.tls");
  CHECK(refused.error().message.find("pinned SHA-256") != std::string::npos);
  CHECK(requests == before);  // the request, credentials and all, never reached the server
}

TEST_CASE("TLS: the server certificate's fingerprint is captured on request, for trust on first use", "[http][curl][tls]") {
  auto pair = tls::SelfSigned({"bmc", {}, {"127.0.0.1"}, 30, false});
  REQUIRE(pair.ok());
  LocalServer local(TlsServer(*pair));
  local.server().Get("/redfish/v1", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{}", "application/json");
  });
  CurlTransport transport;
  Request req;
  req.url = local.Url("https", "/redfish/v1");
  auto opted_out = Quick();
  opted_out.tls.verify = false;
  CHECK(transport.Send(req, opted_out)->peer_sha256.empty());  // not asked for
  req.capture_certificate = true;
  auto seen = transport.Send(req, opted_out);
  REQUIRE(seen.ok());
  CHECK(seen->peer_sha256 == *tls::Sha256Fingerprint(pair->certificate_pem));
  // Verification still applies when it is on: capturing does not weaken it.
  auto verified = transport.Send(req, Quick());
  REQUIRE_FALSE(verified.ok());
  CHECK(verified.error().code == "http.tls");
}

TEST_CASE("TLS: a certificate from a trusted CA verifies", "[http][curl][tls]") {
  auto ca = tls::SelfSigned({"site CA", {}, {}, 30, true});
  auto server = tls::SignedBy({"dispatcher", {"localhost"}, {"127.0.0.1"}, 30, false}, *ca);
  REQUIRE(server.ok());
  LocalServer local(TlsServer(*server));
  local.server().Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok", "text/plain");
  });
  char path[] = "/tmp/dcops-ca-XXXXXX";
  const int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, ca->certificate_pem.data(), ca->certificate_pem.size()) ==
          static_cast<ssize_t>(ca->certificate_pem.size()));
  ::close(fd);
  CurlTransport transport;
  auto options = Quick();
  options.tls.ca_file = path;
  Request req;
  req.url = local.Url("https", "/healthz");
  auto r = transport.Send(req, options);
  ::unlink(path);
  REQUIRE(r.ok());
  CHECK(r->body == "ok");
}

TEST_CASE("A slow server is a timeout, a closed port a connect error", "[http][curl]") {
  LocalServer local(std::make_unique<httplib::Server>());
  std::promise<void> release;
  auto released = release.get_future().share();
  local.server().Get("/slow", [released](const httplib::Request&, httplib::Response& res) {
    released.wait_for(std::chrono::seconds(10));  // holds the answer until the test lets go
    res.set_content("late", "text/plain");
  });
  CurlTransport transport;
  auto options = Quick();
  options.timeout = milliseconds(300);
  Request req;
  req.url = local.Url("http", "/slow");
  auto r = transport.Send(req, options);
  release.set_value();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "http.timeout");
  CHECK(r.error().retryable);

  const int sock = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(sock, reinterpret_cast<sockaddr*>(&addr), &len);
  req.url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/";
  auto refused = transport.Send(req, options);
  ::close(sock);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == "http.connect");
}

TEST_CASE("A response larger than allowed is refused", "[http][curl]") {
  LocalServer local(std::make_unique<httplib::Server>());
  local.server().Get("/big", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(2u << 20, 'x'), "text/plain");
  });
  CurlTransport transport;
  auto options = Quick();
  options.max_body_bytes = 1u << 20;
  Request req;
  req.url = local.Url("http", "/big");
  auto r = transport.Send(req, options);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "http.too_large");
}

}  // namespace
}  // namespace dcops::http

namespace dcops::http {
namespace {

// A TCP listener on 127.0.0.1 that takes one connection, reads the client's first bytes (a
// TLS ClientHello) or, with `whole_request`, up to the end of the request's headers, then
// resets it (SO_LINGER 0: an RST, as a BMC dropping a connection does).
class ResettingListener {
 public:
  explicit ResettingListener(bool whole_request) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd_, 1) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, whole_request] {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string got;
      char buf[1024];
      while (got.empty() || (whole_request && got.find("\r\n\r\n") == std::string::npos)) {
        const ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        got.append(buf, static_cast<std::size_t>(n));
      }
      linger l{1, 0};
      ::setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof l);
      ::close(c);
    });
  }
  ~ResettingListener() {
    ::shutdown(fd_, SHUT_RDWR);  // releases accept() if no client came
    thread_.join();
    ::close(fd_);
  }
  std::string Url(const std::string& scheme) const { return scheme + "://127.0.0.1:" + std::to_string(port_) + "/x"; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

TEST_CASE("A connection reset during the TLS handshake is a retryable reset, not a certificate problem", "[http][curl][tls]") {
  ResettingListener bmc(false);
  CurlTransport transport;
  Request req;
  req.url = bmc.Url("https");
  auto r = transport.Send(req, Quick());
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "http.reset");
  CHECK(r.error().retryable);
  CHECK(r.error().message.find("pin its") == std::string::npos);
}

TEST_CASE("A connection dropped after the request was sent may have acted: a POST is not retried", "[http][curl]") {
  ResettingListener bmc(true);
  CurlTransport transport;
  Request req;
  req.method = Method::kPost;
  req.url = bmc.Url("http");
  req.body = R"({"ResetType":"On"})";
  auto r = transport.Send(req, Quick());
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "http.closed");
  CHECK(r.error().message.find("may have taken effect") != std::string::npos);
}

}  // namespace
}  // namespace dcops::http
