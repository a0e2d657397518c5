#include "options.hpp"

#include <fmt/format.h>

#include <charconv>
#include <fstream>

#include "target.hpp"

namespace dcops::sim::tree {
namespace {

Result<long> Number(const std::string& flag, const std::string& text, long min, long max) {
  long v = 0;
  const auto* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || p != end || v < min || v > max) {
    return MakeError("options.value",
                     fmt::format("{} {}: expected a number in [{}, {}]", flag, text, min, max));
  }
  return v;
}

}  // namespace

Result<SimOptions> ParseOptions(int argc, const char* const* argv) {
  SimOptions o;
  std::string password_file;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--invisible-restart") {
      o.invisible_restart = true;
      continue;
    }
    if (i + 1 >= argc) return MakeError("options.value", fmt::format("{} needs a value", flag));
    const std::string v = argv[++i];
    if (flag == "--tree") {
      o.tree = v;
    } else if (flag == "--address") {
      o.address = v;
    } else if (flag == "--port" || flag == "--control-port") {
      auto n = Number(flag, v, 0, 65535);
      if (!n) return n.error();
      (flag == "--port" ? o.port : o.control_port) = static_cast<int>(*n);
    } else if (flag == "--user") {
      o.user = v;
    } else if (flag == "--password-file") {
      password_file = v;
    } else if (flag == "--auth") {
      if (v == "auto") {
        o.auth = AuthMode::kAuto;
      } else if (v == "session") {
        o.auth = AuthMode::kSession;
      } else if (v == "basic") {
        o.auth = AuthMode::kBasic;
      } else {
        return MakeError("options.value", "--auth: one of auto, session, basic");
      }
    } else if (flag == "--page-size") {
      auto n = Number(flag, v, 0, 1000000);
      if (!n) return n.error();
      o.page_size = static_cast<int>(*n);
    } else if (flag == "--self-next-link") {
      o.self_next_links.push_back(NormalizePath(v));
    } else if (flag == "--restart-ms" || flag == "--task-ms") {
      auto n = Number(flag, v, 0, 3600000);
      if (!n) return n.error();
      (flag == "--restart-ms" ? o.restart : o.task) = std::chrono::milliseconds(*n);
    } else {
      return MakeError("options.unknown", fmt::format("unknown option {}", flag));
    }
  }
  if (o.tree.empty()) return MakeError("options.missing", "--tree is required");
  if (password_file.empty()) return MakeError("options.missing", "--password-file is required");
  if (!IsLoopback(o.address)) {
    return MakeError("options.address",
                     fmt::format("--address {}: only loopback addresses (127.0.0.0/8)", o.address));
  }
  std::ifstream in(password_file);
  if (!in || !std::getline(in, o.password)) {
    return MakeError("options.password", fmt::format("cannot read {}", password_file));
  }
  if (!o.password.empty() && o.password.back() == '\r') o.password.pop_back();
  return o;
}

}  // namespace dcops::sim::tree
