// Status and Result<T>: the one error type of every fallible call in qdrantd and qdctl.
// An OK Status holds no allocation; a failed one carries a code and a message that says what was
// wrong, with the value, in Qdrant's words where the spec has them. Codes map to HTTP and gRPC in
// exactly one place each (qdrantd/api/). Thread: any (values, no shared state).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace qd {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,   // 400 / INVALID_ARGUMENT: the request does not deserialise
  kUnprocessable,     // 422 / INVALID_ARGUMENT: well-formed but semantically invalid
  kNotFound,          // 404 / NOT_FOUND
  kAlreadyExists,     // 409 / ALREADY_EXISTS
  kPermissionDenied,  // 403 / PERMISSION_DENIED
  kMethodNotAllowed,  // 405 / FAILED_PRECONDITION: e.g. cluster operations in standalone mode
  kPayloadTooLarge,   // 413 / RESOURCE_EXHAUSTED
  kResourceExhausted, // 429 / RESOURCE_EXHAUSTED
  kFailedPrecondition,// 400 / FAILED_PRECONDITION
  kUnavailable,       // 503 / UNAVAILABLE
  kDeadlineExceeded,  // 408 / DEADLINE_EXCEEDED: timed out, outcome unknown
  kInternal,          // 500 / INTERNAL
  kUnimplemented,     // 501 / UNIMPLEMENTED: a feature this build does not have yet
  kUnauthenticated,   // 401 / UNAUTHENTICATED: no API key or JWT, or one that is not valid
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message);

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status Unprocessable(std::string m) { return {StatusCode::kUnprocessable, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status PermissionDenied(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }
  static Status MethodNotAllowed(std::string m) { return {StatusCode::kMethodNotAllowed, std::move(m)}; }
  static Status PayloadTooLarge(std::string m) { return {StatusCode::kPayloadTooLarge, std::move(m)}; }
  static Status FailedPrecondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status DeadlineExceeded(std::string m) { return {StatusCode::kDeadlineExceeded, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
  static Status Unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
  static Status Unauthenticated(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }

  bool ok() const { return rep_ == nullptr; }
  StatusCode code() const { return rep_ ? rep_->code : StatusCode::kOk; }
  const std::string& message() const;

  // Prefixes the message with where it happened: "config file x.yaml: <message>".
  Status WithContext(std::string_view where) const;
  std::string ToString() const;

 private:
  struct Rep {
    StatusCode code;
    std::string message;
  };
  std::shared_ptr<const Rep> rep_;  // null when OK
};

// A value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace qd
