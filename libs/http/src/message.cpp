#include "dcops/http/message.hpp"

#include <algorithm>
#include <cctype>

namespace dcops::http {

std::string_view MethodName(Method m) {
  switch (m) {
    case Method::kGet: return "GET";
    case Method::kPost: return "POST";
    case Method::kPatch: return "PATCH";
    case Method::kPut: return "PUT";
    case Method::kDelete: return "DELETE";
    case Method::kHead: return "HEAD";
  }
  return "GET";
}

bool IsIdempotent(Method m) { return m != Method::kPost && m != Method::kPatch; }

std::string Response::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() &&
        std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return v;
    }
  }
  return {};
}

std::string HostOf(std::string_view url) {
  auto start = url.find("://");
  start = (start == std::string_view::npos) ? 0 : start + 3;
  auto end = url.find_first_of("/?#", start);
  return std::string(url.substr(start, end == std::string_view::npos ? url.npos : end - start));
}

}  // namespace dcops::http
