#include "dcops/db/rows.hpp"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <charconv>
#include <cstdlib>

namespace dcops::db {

void Rows::Deleter::operator()(pg_result* r) const { PQclear(r); }

Rows::Rows(pg_result* result) : result_(result) {}

int Rows::size() const { return result_ ? PQntuples(result_.get()) : 0; }
int Rows::columns() const { return result_ ? PQnfields(result_.get()) : 0; }

std::int64_t Rows::affected() const {
  if (!result_) return 0;
  const char* n = PQcmdTuples(result_.get());
  return (n && *n) ? std::strtoll(n, nullptr, 10) : 0;
}

Result<int> Rows::Column(std::string_view name) const {
  const std::string key(name);
  const int index = result_ ? PQfnumber(result_.get(), key.c_str()) : -1;
  if (index < 0) return MakeError("db.column", fmt::format("result has no column '{}'", name));
  return index;
}

bool Rows::IsNull(int row, std::string_view column) const {
  auto col = Column(column);
  return !col || row >= size() || PQgetisnull(result_.get(), row, *col) != 0;
}

std::optional<std::string> Rows::Text(int row, std::string_view column) const {
  if (IsNull(row, column)) return std::nullopt;
  const int col = *Column(column);
  return std::string(PQgetvalue(result_.get(), row, col),
                     static_cast<std::size_t>(PQgetlength(result_.get(), row, col)));
}

std::optional<std::string> Rows::TextAt(int row, int column) const {
  if (!result_ || row >= size() || column >= columns() ||
      PQgetisnull(result_.get(), row, column) != 0) {
    return std::nullopt;
  }
  return std::string(PQgetvalue(result_.get(), row, column),
                     static_cast<std::size_t>(PQgetlength(result_.get(), row, column)));
}

std::string Rows::Str(int row, std::string_view column) const {
  return Text(row, column).value_or(std::string());
}

Result<std::int64_t> Rows::Int(int row, std::string_view column) const {
  auto text = Text(row, column);
  if (!text) return MakeError("db.type", fmt::format("column '{}' is NULL or absent", column));
  std::int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || ptr != text->data() + text->size()) {
    return MakeError("db.type", fmt::format("column '{}' is not an integer", column));
  }
  return value;
}

Result<bool> Rows::Bool(int row, std::string_view column) const {
  auto text = Text(row, column);
  if (!text) return MakeError("db.type", fmt::format("column '{}' is NULL or absent", column));
  if (*text == "t") return true;
  if (*text == "f") return false;
  return MakeError("db.type", fmt::format("column '{}' is not a boolean", column));
}

}  // namespace dcops::db
