// The public value types of the Socket.IO API: FieldList (handshake
// headers and query) and Args (event arguments with binary attachments).
#include "socketio/packet.hpp"

#include <rollcall/server.hpp>

namespace rollcall {

// --- FieldList -------------------------------------------------------------

void FieldList::add(std::string_view name, std::string_view value) {
  data_.append(name);
  data_ += '\0';
  data_.append(value);
  data_ += '\0';
}

bool FieldList::next(std::string_view& rest, std::string_view& name, std::string_view& value) {
  auto n = rest.find('\0');
  if (n == std::string_view::npos) return false;
  auto v = rest.find('\0', n + 1);
  if (v == std::string_view::npos) return false;
  name = rest.substr(0, n);
  value = rest.substr(n + 1, v - n - 1);
  rest.remove_prefix(v + 1);
  return true;
}

std::optional<std::string_view> FieldList::get(std::string_view name) const {
  std::string_view rest(data_), n, v;
  while (next(rest, n, v)) {
    if (n == name) return v;
  }
  return std::nullopt;
}

std::vector<std::pair<std::string_view, std::string_view>> FieldList::all() const {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  std::string_view rest(data_), n, v;
  while (next(rest, n, v)) out.emplace_back(n, v);
  return out;
}

// --- Args ----------------------------------------------------------------

std::size_t Args::push_binary(std::string bytes) {
  return push_binary(std::make_shared<const std::string>(std::move(bytes)));
}

std::size_t Args::push_binary(Bytes bytes) {
  std::size_t n = attachments_.size();
  attachments_.push_back(std::move(bytes));
  values_.push_back(socketio::make_placeholder(n));
  return n;
}

boost::json::value Args::make_binary(std::string bytes) {
  std::size_t n = attachments_.size();
  attachments_.push_back(std::make_shared<const std::string>(std::move(bytes)));
  return socketio::make_placeholder(n);
}

const std::string* Args::binary(const boost::json::value& v) const noexcept {
  std::size_t n = 0;
  if (!socketio::is_placeholder(v, &n) || n >= attachments_.size()) return nullptr;
  return attachments_[n].get();
}

}  // namespace rollcall
