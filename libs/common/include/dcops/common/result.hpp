#pragma once
// Errors are values. Every fallible function in dcops returns Result<T>; an Error says what
// went wrong (code), in words an operator can act on (message), and whether trying the same
// thing again may succeed (retryable). Errors are mapped once at each edge (libpq, HTTP,
// gRPC) into this one type.
//
// Thread-safety: plain values; const access from many threads is safe.

#include <cassert>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace dcops {

struct Error {
  // Stable, machine-readable, dotted: "config.unknown_key", "db.refused", "db.sql".
  std::string code;
  // Human-readable. Never contains a secret value.
  std::string message;
  // True when the same operation may succeed later without any change of input.
  bool retryable = false;
  // SQLSTATE when the error came from PostgreSQL, else empty.
  std::string sqlstate;
};

inline Error MakeError(std::string code, std::string message, bool retryable = false) {
  return Error{std::move(code), std::move(message), retryable, {}};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T& value() & { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  const Error& error() const { assert(!ok()); return std::get<1>(v_); }
  // The value, or `fallback` when this holds an error (the error is dropped: use only where
  // a default is the documented answer).
  T value_or(T fallback) const& { return ok() ? std::get<0>(v_) : std::move(fallback); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { assert(!ok_); return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace dcops
