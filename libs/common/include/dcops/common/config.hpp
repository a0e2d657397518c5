#pragma once
// Configuration into typed structs, 12-factor style.
//
// A service declares every key it understands once, bound to a field of its options struct
// (whose in-class initialiser is the default). Load() reads the environment and, when
// `<PREFIX>CONFIG_FILE` names one, a KEY=VALUE file (environment wins). Any key with the
// prefix that is not declared, any malformed value and any missing required key is an
// error whose message names the key. Values of secret-named keys never appear in messages.
//
// Only main() builds a ConfigSpec; libraries receive finished options structs.
// Thread-safety: not thread-safe; use during start-up.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "dcops/common/result.hpp"

namespace dcops {

using Environment = std::map<std::string, std::string>;

// The process environment, restricted to keys that start with `prefix`.
Environment ProcessEnvironment(const std::string& prefix);

// Parses a KEY=VALUE file: blank lines and '#' comments ignored, optional "export ",
// optional single or double quotes around the value.
Result<Environment> ParseEnvFile(const std::string& text, const std::string& origin);

// "250ms", "30s", "5m", "2h", or a bare number of seconds.
Result<std::chrono::milliseconds> ParseDuration(const std::string& text);

class ConfigSpec {
 public:
  explicit ConfigSpec(std::string prefix) : prefix_(std::move(prefix)) {}

  // Each binds <prefix><name> to `out`. The current value of *out is the default.
  ConfigSpec& String(const std::string& name, std::string* out, std::string doc,
                     bool required = false);
  ConfigSpec& Int(const std::string& name, std::int64_t* out, std::int64_t min,
                  std::int64_t max, std::string doc);
  ConfigSpec& Bool(const std::string& name, bool* out, std::string doc);
  ConfigSpec& Duration(const std::string& name, std::chrono::milliseconds* out,
                       std::string doc);
  ConfigSpec& OneOf(const std::string& name, std::string* out, std::vector<std::string> allowed,
                    std::string doc);

  // Applies `env` (and the file it may name, read through `read_file`) to the bound fields.
  // On error nothing useful can be assumed about the fields; the caller should exit.
  Status Load(const Environment& env,
              const std::function<Result<std::string>(const std::string&)>& read_file) const;

  // One line per key: name, default, doc. For --help.
  std::string Describe() const;

 private:
  struct Key {
    std::string name;  // with prefix
    std::string doc;
    std::string default_text;
    bool required = false;
    // Parses and stores; returns an error message (without the key name) or "".
    std::function<std::string(const std::string&)> apply;
  };
  ConfigSpec& Add(const std::string& name, std::string doc, std::string default_text,
                  bool required, std::function<std::string(const std::string&)> apply);

  std::string prefix_;
  std::vector<Key> keys_;
};

// Reads a whole file; the error names the path.
Result<std::string> ReadWholeFile(const std::string& path);
// Reads a secret kept in a file (a token, a password): the file's content without trailing
// whitespace and newlines. An empty file is an error; the content never is part of one.
Result<std::string> ReadSecretFile(const std::string& path);

}  // namespace dcops
