// Event arguments: JSON values plus binary attachments.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rollcall {

// Immutable, shareable bytes (a binary attachment). Shared so a broadcast or an
// echo never copies the payload per recipient.
using Bytes = std::shared_ptr<const std::string>;

// The arguments of an event or an acknowledgement, as Socket.IO carries them:
// a JSON array in which each binary value is a placeholder object
// {"_placeholder":true,"num":i} that refers to attachments()[i].
//
//   rollcall::Args a;
//   a.push("hello");
//   a.push_binary(std::string("\x01\x02", 2));
//   socket.emit("greeting", std::move(a));
class Args {
 public:
  Args() = default;
  explicit Args(boost::json::array values, std::vector<Bytes> attachments = {})
      : values_(std::move(values)), attachments_(std::move(attachments)) {}

  // Builds an Args from JSON-convertible values: Args::of("a", 1, true).
  template <class... T>
  static Args of(T&&... v) {
    Args a;
    (a.push(boost::json::value_from(std::forward<T>(v))), ...);
    return a;
  }

  void push(boost::json::value v) { values_.push_back(std::move(v)); }
  // Appends a binary value; returns its index in attachments().
  std::size_t push_binary(std::string bytes);
  std::size_t push_binary(Bytes bytes);
  // Adds an attachment without appending a value and returns the placeholder
  // to put anywhere inside values() (e.g. nested in an object).
  boost::json::value make_binary(std::string bytes);

  std::size_t size() const noexcept { return values_.size(); }
  bool empty() const noexcept { return values_.empty(); }
  const boost::json::value& operator[](std::size_t i) const { return values_.at(i); }

  boost::json::array& values() noexcept { return values_; }
  const boost::json::array& values() const noexcept { return values_; }
  std::vector<Bytes>& attachments() noexcept { return attachments_; }
  const std::vector<Bytes>& attachments() const noexcept { return attachments_; }

  // If `v` is a placeholder that refers to an attachment, returns the bytes.
  const std::string* binary(const boost::json::value& v) const noexcept;

 private:
  boost::json::array values_;
  std::vector<Bytes> attachments_;
};

}  // namespace rollcall
