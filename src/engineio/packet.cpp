#include "engineio/packet.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <array>
#include <cstring>
#include <stdexcept>

namespace rollcall::engineio {

namespace {

constexpr char kStdAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrlAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr char kRecordSeparator = '\x1e';
constexpr std::size_t kIdBytes = 15;
constexpr std::size_t kIdChars = 20;

// Reverse table: 0-63 for alphabet characters, 0xff otherwise.
constexpr std::array<std::uint8_t, 256> make_reverse(const char* alphabet) {
  std::array<std::uint8_t, 256> t{};
  for (auto& v : t) v = 0xff;
  for (std::uint8_t i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = i;
  return t;
}

constexpr auto kStdReverse = make_reverse(kStdAlphabet);
constexpr auto kUrlReverse = make_reverse(kUrlAlphabet);

// Encodes full 3-byte groups and the tail; `pad` adds '=' padding.
void encode_with(std::string& out, std::string_view bytes, const char* alphabet, bool pad) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t n = bytes.size();
  out.reserve(out.size() + (n + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const std::uint32_t v = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8) | p[i + 2];
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    out.push_back(alphabet[v & 63]);
  }
  const std::size_t rest = n - i;
  if (rest == 1) {
    const std::uint32_t v = std::uint32_t{p[i]} << 16;
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    if (pad) out.append("==");
  } else if (rest == 2) {
    const std::uint32_t v = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8);
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    if (pad) out.push_back('=');
  }
}

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

std::string base64_encode(std::string_view bytes) {
  std::string out;
  encode_with(out, bytes, kStdAlphabet, true);
  return out;
}

void base64_encode_append(std::string& out, std::string_view bytes) {
  encode_with(out, bytes, kStdAlphabet, true);
}

std::optional<std::string> base64_decode(std::string_view text) {
  // Strict RFC 4648: length multiple of 4, padding only at the end (at most
  // two '='), and the unused bits of the last symbol must be zero so that
  // every accepted input is the canonical encoding of its bytes.
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t pad = 0;
  if (!text.empty() && text.back() == '=') {
    pad = 1;
    if (text[text.size() - 2] == '=') pad = 2;
  }
  const std::size_t data_chars = text.size() - pad;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < data_chars; ++i) {
    const std::uint8_t v = kStdReverse[static_cast<unsigned char>(text[i])];
    if (v == 0xff) return std::nullopt;  // bad character, including a misplaced '='
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // Leftover bits (2 with "==", 4 with "=") must be zero.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

namespace {
// Bytes from OpenSSL's CSPRNG, fetched 4 KiB at a time per thread: one
// RAND_bytes call (each checks the process id and takes a lock) per ~270
// ids instead of one per id. Bytes are wiped from the pool as they are
// handed out.
void random_bytes(unsigned char* out, std::size_t n) {
  thread_local std::array<unsigned char, 4096> pool;
  thread_local std::size_t left = 0;
  if (left < n) {
    if (RAND_bytes(pool.data(), static_cast<int>(pool.size())) != 1) {
      // Never fall back to a weak id: session ids are bearer credentials.
      throw std::runtime_error("RAND_bytes failed");
    }
    left = pool.size();
  }
  unsigned char* from = pool.data() + (pool.size() - left);
  std::memcpy(out, from, n);
  OPENSSL_cleanse(from, n);
  left -= n;
}
}  // namespace

std::string make_id(std::uint8_t tag) {
  std::array<unsigned char, kIdBytes> bytes{};
  random_bytes(bytes.data(), bytes.size());
  bytes[0] = tag;
  std::string out;
  encode_with(out, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
              kUrlAlphabet, false);
  return out;  // 15 bytes -> exactly 20 characters, no padding needed
}

std::optional<std::uint8_t> id_tag(std::string_view id) {
  if (id.size() != kIdChars) return std::nullopt;
  for (const char c : id) {
    if (kUrlReverse[static_cast<unsigned char>(c)] == 0xff) return std::nullopt;
  }
  const std::uint8_t hi = kUrlReverse[static_cast<unsigned char>(id[0])];
  const std::uint8_t lo = kUrlReverse[static_cast<unsigned char>(id[1])];
  return static_cast<std::uint8_t>((hi << 2) | (lo >> 4));
}

}  // namespace rollcall::engineio
