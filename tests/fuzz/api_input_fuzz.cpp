// What reaches the dispatcher's HTTP port before any database: the JSON depth guard every
// request body meets, the Cookie header and the tokens' check, and the event stream's framing.
#include "api_access.hpp"
#include "console_stream.hpp"
#include "dcops/common/clock.hpp"
#include "dcops/common/json_depth.hpp"
#include "fuzz_target.hpp"

FUZZ_TARGET {
  using namespace dcops::dispatcher;
  const std::string text = dcops::fuzz::Text(data, size);
  (void)dcops::JsonNestingWithin(text, 64);
  (void)CookieValue(text, ApiAccess::kCookie);
  static dcops::FakeClock clock;
  static ApiAccess access("operator-token-0123456789", "viewer-token-0123456789", clock);
  static const std::string session = *access.Login("operator-token-0123456789", "fuzz");
  // The input is an Authorization header, a newline, then a Cookie header.
  const std::size_t cut = text.find('\n');
  const std::string authorization = text.substr(0, cut);
  const std::string cookie = cut == std::string::npos ? "" : text.substr(cut + 1);
  const bool token = authorization == "Bearer operator-token-0123456789" ||
                     authorization == "Bearer viewer-token-0123456789";
  const bool has_session = CookieValue(cookie, ApiAccess::kCookie) == session;
  dcops::fuzz::Expect(access.Authenticate(authorization, cookie).has_value() ==
                          (authorization.empty() ? has_session : token),
                      "only a token, or the session's id when no token is sent, opens the API");
  const std::string frame = SseFrame("jobs", text);
  // Data never ends a message early: every line of it (ended by CR, LF or CRLF) is a data: line.
  std::size_t lines = 1;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
    lines += text[i] == '\r' || text[i] == '\n';
  }
  std::size_t data_lines = 0;
  for (std::size_t at = frame.find("\ndata: "); at != std::string::npos; at = frame.find("\ndata: ", at + 1)) ++data_lines;
  dcops::fuzz::Expect(data_lines == lines, "each line of the data is one data: line");
  dcops::fuzz::Expect(frame.find('\r') == std::string::npos, "a frame holds no CR a browser would end a line at");
  return 0;
}
