#pragma once
// The rows a statement returned, in text format, with typed accessors that fail as values.
//
// Ownership: owns the underlying PGresult. Move-only.
// Thread-safety: const methods are safe from many threads.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "dcops/common/result.hpp"

struct pg_result;

namespace dcops::db {

class Rows {
 public:
  Rows() = default;
  explicit Rows(pg_result* result);

  int size() const;
  int columns() const;
  bool empty() const { return size() == 0; }
  // Rows changed by INSERT/UPDATE/DELETE (PQcmdTuples), 0 when not applicable.
  std::int64_t affected() const;

  // Column index by name, or an error naming the missing column.
  Result<int> Column(std::string_view name) const;
  bool IsNull(int row, std::string_view column) const;
  // NULL reads as std::nullopt.
  std::optional<std::string> Text(int row, std::string_view column) const;
  // NULL or absent reads as "", for columns known to be NOT NULL.
  std::string Str(int row, std::string_view column) const;
  Result<std::int64_t> Int(int row, std::string_view column) const;
  Result<bool> Bool(int row, std::string_view column) const;
  // By position, for statements whose column names do not matter.
  std::optional<std::string> TextAt(int row, int column) const;

 private:
  struct Deleter { void operator()(pg_result* r) const; };
  std::unique_ptr<pg_result, Deleter> result_;
};

}  // namespace dcops::db
