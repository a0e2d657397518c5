#pragma once
// Reading single values out of the database's answers, for ControlPlane's files. Pure.
#include <string>

#include "dcops/common/result.hpp"
#include "dcops/db/rows.hpp"

namespace dcops::dispatcher {

// The first column of the first row as text; db.empty when there is no row.
inline Result<std::string> ScalarText(Result<db::Rows> rows) {
  if (!rows) return rows.error();
  if (rows->empty()) return MakeError("db.empty", "the statement returned no row");
  return rows->TextAt(0, 0).value_or(std::string());
}

}  // namespace dcops::dispatcher
