#include "dcops/common/config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "dcops/common/redact.hpp"

extern char** environ;  // NOLINT: POSIX

namespace dcops {
namespace {

std::string Trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

std::string Shown(const std::string& key, const std::string& value) {
  return IsSecretKey(key) ? std::string(kRedacted) : fmt::format("'{}'", value);
}

}  // namespace

Environment ProcessEnvironment(const std::string& prefix) {
  Environment env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    const auto eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    std::string key(entry.substr(0, eq));
    if (key.rfind(prefix, 0) == 0) env[key] = std::string(entry.substr(eq + 1));
  }
  return env;
}

Result<Environment> ParseEnvFile(const std::string& text, const std::string& origin) {
  Environment env;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    line = Trim(line);
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("export ", 0) == 0) line = Trim(line.substr(7));
    const auto eq = line.find('=');
    if (eq == std::string::npos || eq == 0) {
      return MakeError("config.syntax",
                       fmt::format("{}:{}: expected KEY=VALUE", origin, number));
    }
    std::string key = Trim(line.substr(0, eq));
    std::string value = Trim(line.substr(eq + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    env[key] = value;
  }
  return env;
}

Result<std::chrono::milliseconds> ParseDuration(const std::string& text) {
  const std::string t = Trim(text);
  std::int64_t number = 0;
  const char* begin = t.data();
  const char* end = t.data() + t.size();
  auto [ptr, ec] = std::from_chars(begin, end, number);
  if (ec != std::errc() || ptr == begin || number < 0) {
    return MakeError("config.invalid", "expected a duration such as 500ms, 30s, 5m or 2h");
  }
  const std::string unit(ptr, end);
  std::int64_t factor = 0;
  if (unit.empty() || unit == "s") factor = 1000;
  else if (unit == "ms") factor = 1;
  else if (unit == "m") factor = 60'000;
  else if (unit == "h") factor = 3'600'000;
  else return MakeError("config.invalid", fmt::format("unknown duration unit '{}'", unit));
  // Found by fuzzing: a long enough number overflowed the product.
  if (number > std::numeric_limits<std::int64_t>::max() / factor) {
    return MakeError("config.invalid", fmt::format("duration {} is too long", t));
  }
  return std::chrono::milliseconds(number * factor);
}

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return MakeError("io.open", fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<std::string> ReadSecretFile(const std::string& path) {
  auto text = ReadWholeFile(path);
  if (!text) return text.error();
  std::string secret = std::move(*text);
  while (!secret.empty() && std::isspace(static_cast<unsigned char>(secret.back()))) secret.pop_back();
  if (secret.empty()) return MakeError("config.invalid", fmt::format("{} is empty", path));
  return secret;
}

ConfigSpec& ConfigSpec::Add(const std::string& name, std::string doc, std::string default_text,
                            bool required,
                            std::function<std::string(const std::string&)> apply) {
  keys_.push_back(Key{prefix_ + name, std::move(doc), std::move(default_text), required,
                      std::move(apply)});
  return *this;
}

ConfigSpec& ConfigSpec::String(const std::string& name, std::string* out, std::string doc,
                               bool required) {
  const std::string shown = IsSecretKey(name) && !out->empty() ? "(set)" : *out;
  return Add(name, std::move(doc), shown, required, [out](const std::string& v) {
    *out = v;
    return std::string();
  });
}

ConfigSpec& ConfigSpec::Int(const std::string& name, std::int64_t* out, std::int64_t min,
                            std::int64_t max, std::string doc) {
  return Add(name, std::move(doc), std::to_string(*out), false,
             [out, min, max](const std::string& v) {
               std::int64_t n = 0;
               const std::string t = Trim(v);
               auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
               if (ec != std::errc() || ptr != t.data() + t.size() || t.empty()) {
                 return fmt::format("expected an integer, got '{}'", v);
               }
               if (n < min || n > max) {
                 return fmt::format("{} is outside {}..{}", n, min, max);
               }
               *out = n;
               return std::string();
             });
}

ConfigSpec& ConfigSpec::Bool(const std::string& name, bool* out, std::string doc) {
  return Add(name, std::move(doc), *out ? "true" : "false", false, [out](const std::string& v) {
    std::string t = Trim(v);
    std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
    if (t == "1" || t == "true" || t == "yes" || t == "on") { *out = true; return std::string(); }
    if (t == "0" || t == "false" || t == "no" || t == "off") { *out = false; return std::string(); }
    return fmt::format("expected true or false, got '{}'", v);
  });
}

ConfigSpec& ConfigSpec::Duration(const std::string& name, std::chrono::milliseconds* out,
                                 std::string doc) {
  return Add(name, std::move(doc), std::to_string(out->count()) + "ms", false,
             [out](const std::string& v) {
               auto d = ParseDuration(v);
               if (!d) return fmt::format("{}, got '{}'", d.error().message, v);
               *out = *d;
               return std::string();
             });
}

ConfigSpec& ConfigSpec::OneOf(const std::string& name, std::string* out,
                              std::vector<std::string> allowed, std::string doc) {
  return Add(name, std::move(doc), *out, false, [out, allowed](const std::string& v) {
    if (std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
      return fmt::format("expected one of {}, got '{}'", fmt::join(allowed, ", "), v);
    }
    *out = v;
    return std::string();
  });
}

Status ConfigSpec::Load(
    const Environment& env,
    const std::function<Result<std::string>(const std::string&)>& read_file) const {
  Environment merged;
  const std::string file_key = prefix_ + "CONFIG_FILE";
  if (auto it = env.find(file_key); it != env.end() && !it->second.empty()) {
    auto text = read_file(it->second);
    if (!text) {
      return MakeError("config.invalid", fmt::format("{}: {}", file_key, text.error().message));
    }
    auto parsed = ParseEnvFile(*text, it->second);
    if (!parsed) return parsed.error();
    merged = std::move(*parsed);
  }
  for (const auto& [k, v] : env) merged[k] = v;  // the environment wins over the file

  std::vector<std::string> problems;
  std::set<std::string> known{file_key};
  for (const auto& key : keys_) known.insert(key.name);
  for (const auto& [k, v] : merged) {
    if (k.rfind(prefix_, 0) == 0 && known.count(k) == 0) {
      problems.push_back(fmt::format("{}: unknown configuration key", k));
    }
  }
  for (const auto& key : keys_) {
    auto it = merged.find(key.name);
    if (it == merged.end()) {
      if (key.required) problems.push_back(fmt::format("{}: required but not set", key.name));
      continue;
    }
    if (std::string why = key.apply(it->second); !why.empty()) {
      // The parser's message may quote the value; a secret's value is never quoted.
      if (IsSecretKey(key.name)) why = fmt::format("invalid value {}", Shown(key.name, ""));
      problems.push_back(fmt::format("{}: {}", key.name, why));
    }
  }
  if (!problems.empty()) {
    return MakeError("config.invalid",
                     fmt::format("invalid configuration: {}", fmt::join(problems, "; ")));
  }
  return {};
}

std::string ConfigSpec::Describe() const {
  std::string out;
  for (const auto& key : keys_) {
    out += fmt::format("  {:<32} {}{} (default: {})\n", key.name, key.doc,
                       key.required ? " [required]" : "",
                       key.default_text.empty() ? "none" : key.default_text);
  }
  return out;
}

}  // namespace dcops
