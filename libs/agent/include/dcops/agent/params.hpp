#pragma once
// Typed reading of a step's params (the JSON object the dispatcher hands over): absent keys
// are nullopt, wrong types are step.bad_params errors that name "params.<key>".
//
// Thread-safety: immutable after Parse; copies share the parsed document.
#include <rapidjson/document.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dcops/common/result.hpp"

namespace dcops::agent {

class Params {
 public:
  static Result<Params> Parse(const std::string& json);
  // Absent is nullopt; present must be a string (and one of `allowed` when given).
  Result<std::optional<std::string>> Text(const char* key, std::initializer_list<const char*> allowed = {}) const;
  Result<std::string> RequiredText(const char* key, std::initializer_list<const char*> allowed = {}) const;
  Result<std::optional<bool>> Flag(const char* key) const;
  Result<std::optional<std::int64_t>> Int(const char* key, std::int64_t min, std::int64_t max) const;
  Result<std::optional<std::vector<std::string>>> TextList(const char* key) const;
  const rapidjson::Value* Raw(const char* key) const;

 private:
  std::shared_ptr<rapidjson::Document> doc_;
};
// A step.bad_params error naming "params.<key>".
Error BadParam(const char* key, const std::string& problem);

}  // namespace dcops::agent
