// Issue 13's HTTP findings, as an attacker repeats them against the dispatcher's real HTTP
// port (httplib with AddHttpEndpoints, loopback): slow peers holding connections, large bodies
// sent without a token. The socket timeouts below bound how long the test waits for an answer
// that must come; they are shorter than the server's read timeout, so an answer that only
// came once a slow peer timed out would fail the test.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>

#include "api.hpp"
#include "dcops/common/clock.hpp"
#include "http_endpoints.hpp"
#include "test_db.hpp"

namespace dcops::dispatcher {
namespace {

// A raw TCP connection to 127.0.0.1:port, with a receive timeout.
class RawConnection {
 public:
  RawConnection(int port, std::chrono::seconds recv_timeout) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    REQUIRE(fd_ >= 0);
    timeval tv{static_cast<time_t>(recv_timeout.count()), 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~RawConnection() { ::close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  void Send(const std::string& data) { REQUIRE(::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size())); }
  // What the server sent before it closed the connection or the timeout passed.
  std::string Receive() {
    std::string out;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
      if (out.find("\r\n\r\n") != std::string::npos && out.find("Content-Length") == std::string::npos) break;
      if (out.find("}") != std::string::npos || out.find("ok\n") != std::string::npos) break;
    }
    return out;
  }

 private:
  int fd_;
};

struct HttpRig {
  testing::TestDb tdb;
  tls::SecretBox box = *tls::SecretBox::FromKeyBytes(tls::SecretBox::NewHexKey());
  SecretRegistry redact;
  MemorySink sink;
  FakeClock clock;
  Logger log{"test", sink, clock, &redact};
  Api api{"default", "api-token-123", Options(), box, redact, log};
  std::atomic<bool> leader{true}, db_ok{true};
  DispatcherMetrics metrics;
  httplib::Server http;
  int port = 0;
  std::thread thread;

  HttpRig() {
    AddHttpEndpoints(http, {leader, db_ok, metrics, api});  // the production limits
    port = http.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    thread = std::thread([this] { http.listen_after_bind(); });
  }
  ~HttpRig() {
    http.stop();
    thread.join();
  }
  db::DbOptions Options() const {
    db::DbOptions o;
    o.dsn = tdb.dsn();
    o.role = "dcops_dispatcher";
    return o;
  }
};

TEST_CASE("Slow peers holding connections do not stall health, metrics or the API", "[http][attack]") {
  HttpRig rig;
  // Sixteen peers send half a request line and then nothing (twice the pool that stalled before).
  std::vector<std::unique_ptr<RawConnection>> slow;
  for (int i = 0; i < 16; ++i) {
    slow.push_back(std::make_unique<RawConnection>(rig.port, std::chrono::seconds(1)));
    slow.back()->Send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
  }
  RawConnection health(rig.port, std::chrono::seconds(3));
  health.Send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  CHECK(health.Receive().rfind("HTTP/1.1 200", 0) == 0);
  RawConnection api(rig.port, std::chrono::seconds(3));
  api.Send("GET /api/v1/agents HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer api-token-123\r\nConnection: close\r\n\r\n");
  CHECK(api.Receive().rfind("HTTP/1.1 200", 0) == 0);
}

TEST_CASE("A large body is answered unread: 401 without the token, 413 with it", "[http][attack]") {
  HttpRig rig;
  // 50 MB announced, none of it sent: the answer must come from the headers alone.
  RawConnection anonymous(rig.port, std::chrono::seconds(3));
  anonymous.Send("PUT /api/v1/credential-sets/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 "Content-Length: 52428800\r\n\r\n{");
  const std::string refused = anonymous.Receive();
  CHECK(refused.rfind("HTTP/1.1 401", 0) == 0);
  CHECK(refused.find("missing or wrong API token") != std::string::npos);
  RawConnection huge(rig.port, std::chrono::seconds(3));
  huge.Send("POST /api/v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer api-token-123\r\n"
            "Content-Type: application/json\r\nContent-Length: 52428800\r\n\r\n{");
  CHECK(huge.Receive().rfind("HTTP/1.1 413", 0) == 0);
  // A token that is wrong is no better than none.
  RawConnection wrong(rig.port, std::chrono::seconds(3));
  wrong.Send("POST /api/v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer guess\r\n"
             "Content-Length: 52428800\r\n\r\n");
  CHECK(wrong.Receive().rfind("HTTP/1.1 401", 0) == 0);
}

}  // namespace
}  // namespace dcops::dispatcher
