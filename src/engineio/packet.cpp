#include "engineio/packet.hpp"
#include "common/encoding.hpp"

#include <array>
#include <cstring>
#include <stdexcept>

namespace rollcall::engineio {

namespace {

constexpr char kRecordSeparator = '\x1e';
constexpr std::size_t kIdBytes = 15;
constexpr std::size_t kIdChars = 20;

}  // namespace

const char* to_string(DecodeError e) noexcept {
  switch (e) {
    case DecodeError::none: return "none";
    case DecodeError::empty_packet: return "empty packet";
    case DecodeError::unknown_type: return "unknown packet type";
    case DecodeError::bad_base64: return "bad base64";
    case DecodeError::too_many_packets: return "too many packets";
  }
  return "unknown error";
}

DecodeError decode_text_packet(std::string_view in, Packet& out) {
  if (in.empty()) return DecodeError::empty_packet;
  const char t = in.front();
  if (t < '0' || t > '6') return DecodeError::unknown_type;
  out.type = static_cast<PacketType>(t - '0');
  out.binary = false;
  out.data.assign(in.data() + 1, in.size() - 1);
  return DecodeError::none;
}

DecodeError decode_payload(std::string_view in, std::vector<Packet>& out,
                           std::size_t max_packets) {
  // On error `out` is restored to its original size: callers never see half a payload.
  const std::size_t original = out.size();
  auto fail = [&](DecodeError e) {
    out.resize(original);
    return e;
  };
  std::size_t count = 0;
  std::size_t pos = 0;
  for (;;) {
    const std::size_t sep = in.find(kRecordSeparator, pos);
    const std::size_t end = sep == std::string_view::npos ? in.size() : sep;
    if (++count > max_packets) return fail(DecodeError::too_many_packets);
    const std::string_view record = in.substr(pos, end - pos);
    if (record.empty()) return fail(DecodeError::empty_packet);
    if (record.front() == 'b') {
      auto bytes = base64_decode(record.substr(1));
      if (!bytes) return fail(DecodeError::bad_base64);
      Packet& p = out.emplace_back();
      p.type = PacketType::message;
      p.binary = true;
      p.data = std::move(*bytes);
    } else {
      Packet p;
      const DecodeError e = decode_text_packet(record, p);
      if (e != DecodeError::none) return fail(e);
      out.push_back(std::move(p));
    }
    if (sep == std::string_view::npos) break;
    pos = sep + 1;
  }
  return DecodeError::none;
}

void append_payload_record(std::string& out, PacketType type, std::string_view data,
                           bool binary) {
  if (!out.empty()) out.push_back(kRecordSeparator);
  if (binary) {
    out.push_back('b');
    base64_encode_append(out, data);
  } else {
    out.push_back(static_cast<char>('0' + static_cast<int>(type)));
    out.append(data);
  }
}

std::string make_id(std::uint8_t tag) {
  std::array<unsigned char, kIdBytes> bytes{};
  random_bytes(bytes.data(), bytes.size());
  bytes[0] = tag;
  // 15 bytes -> exactly 20 characters, no padding needed
  return base64_encode(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
                       Base64::url, false);
}

std::optional<std::uint8_t> id_tag(std::string_view id) {
  if (id.size() != kIdChars) return std::nullopt;
  for (const char c : id) {
    if (base64url_value(c) < 0) return std::nullopt;
  }
  const int hi = base64url_value(id[0]);
  const int lo = base64url_value(id[1]);
  return static_cast<std::uint8_t>((hi << 2) | (lo >> 4));
}

}  // namespace rollcall::engineio
