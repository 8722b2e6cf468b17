#include "ws/frame.hpp"
#include "common/c_handle.hpp"

#include <rollcall/server.hpp>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstring>
#include <memory>
#include <stdexcept>

namespace rollcall::ws {

namespace detail {

Parser::Error inspect_frame(const unsigned char* p, std::size_t n, bool in_message,
                            std::size_t room, FrameInfo& f) noexcept {
  using Error = Parser::Error;
  if (n < 1) return Error::none;
  const unsigned char b0 = p[0];
  f.fin = (b0 & 0x80) != 0;
  f.opcode = b0 & 0x0f;
  f.have_opcode = true;
  if ((b0 & 0x70) != 0) return Error::reserved_bits;
  switch (f.opcode) {
    case 0x0: case 0x1: case 0x2: case 0x8: case 0x9: case 0xA: break;
    default: return Error::bad_opcode;
  }
  const bool control = is_control(f.opcode);
  if (control && !f.fin) return Error::bad_control_frame;
  // Control frames may be interleaved; data frames must follow the
  // start/continuation sequence.
  if (!control && (f.opcode == 0x0) != in_message) return Error::bad_continuation;
  if (n < 2) return Error::none;
  const unsigned char b1 = p[1];
  if ((b1 & 0x80) == 0) return Error::not_masked;
  const unsigned len7 = b1 & 0x7f;
  if (control && len7 > 125) return Error::bad_control_frame;
  const std::size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
  f.header_len = 2 + ext + 4;
  if (n < 2 + ext) return Error::none;
  std::uint64_t len = len7;
  if (ext != 0) {
    len = 0;
    for (std::size_t i = 0; i < ext; ++i) len = (len << 8) | p[2 + i];
    // RFC 6455 5.2: the most significant bit of a 64-bit length must be 0.
    // Such a length is above any message limit anyway.
    if (ext == 8 && (len >> 63) != 0) return Error::too_big;
  }
  if (!control && len > room) return Error::too_big;  // before the mask even arrives
  if (n < f.header_len) return Error::none;
  f.payload_len = len;
  std::memcpy(f.mask, p + 2 + ext, 4);
  f.complete_header = true;
  return Error::none;
}

void unmask(const unsigned char* src, char* dst, std::size_t len,
            const std::uint8_t mask[4]) noexcept {
  std::size_t i = 0;
  // Eight bytes at a time; the mask phase is 0 at i % 8 == 0.
  std::uint8_t m8[8];
  for (int k = 0; k < 8; ++k) m8[k] = mask[k & 3];
  std::uint64_t mw = 0;
  std::memcpy(&mw, m8, 8);
  for (; i + 8 <= len; i += 8) {
    std::uint64_t w = 0;
    std::memcpy(&w, src + i, 8);
    w ^= mw;
    std::memcpy(dst + i, &w, 8);
  }
  for (; i < len; ++i) dst[i] = static_cast<char>(src[i] ^ mask[i & 3]);
}

bool parse_close_payload(std::string_view payload, std::uint16_t& code,
                         std::string_view& reason) noexcept {
  if (payload.empty()) {
    code = 1005;  // no status code present
    reason = {};
    return true;
  }
  if (payload.size() < 2) return false;
  const auto* b = reinterpret_cast<const unsigned char*>(payload.data());
  code = static_cast<std::uint16_t>((b[0] << 8) | b[1]);
  const bool valid_code = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
                          (code >= 3000 && code <= 4999);
  if (!valid_code) return false;
  reason = payload.substr(2);
  return valid_utf8(reason);
}

}  // namespace detail

std::size_t write_header(std::uint8_t* out, Opcode op, std::size_t len, bool fin) {
  out[0] = static_cast<std::uint8_t>((fin ? 0x80 : 0x00) | static_cast<std::uint8_t>(op));
  if (len < 126) {
    out[1] = static_cast<std::uint8_t>(len);
    return 2;
  }
  if (len <= 0xffff) {
    out[1] = 126;
    out[2] = static_cast<std::uint8_t>(len >> 8);
    out[3] = static_cast<std::uint8_t>(len);
    return 4;
  }
  out[1] = 127;
  const auto l = static_cast<std::uint64_t>(len);
  for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<std::uint8_t>(l >> (56 - 8 * i));
  return 10;
}

std::string make_frame(Opcode op, std::string_view payload) {
  std::uint8_t header[10];
  const std::size_t hl = write_header(header, op, payload.size());
  std::string out;
  out.reserve(hl + payload.size());
  out.append(reinterpret_cast<const char*>(header), hl);
  out.append(payload);
  return out;
}

std::string make_close_frame(CloseCode code, std::string_view reason) {
  // 125-byte control payload = 2-byte code + at most 123 bytes of reason,
  // cut on a UTF-8 character boundary so the peer sees valid UTF-8.
  if (reason.size() > 123) {
    std::size_t cut = 123;
    while (cut > 0 && (static_cast<unsigned char>(reason[cut]) & 0xc0) == 0x80) --cut;
    reason = reason.substr(0, cut);
  }
  std::string payload;
  payload.reserve(2 + reason.size());
  const auto c = static_cast<std::uint16_t>(code);
  payload.push_back(static_cast<char>(c >> 8));
  payload.push_back(static_cast<char>(c & 0xff));
  payload.append(reason);
  return make_frame(Opcode::close, payload);
}

CloseCode Parser::close_code_for(Error e) noexcept {
  switch (e) {
    case Error::too_big: return CloseCode::too_big;
    case Error::bad_utf8: return CloseCode::invalid_payload;
    case Error::none: return CloseCode::normal;
    case Error::not_masked:
    case Error::reserved_bits:
    case Error::bad_opcode:
    case Error::bad_control_frame:
    case Error::bad_continuation:
    case Error::bad_close_payload: return CloseCode::protocol_error;
  }
  return CloseCode::protocol_error;
}

const char* Parser::to_string(Error e) noexcept {
  switch (e) {
    case Error::none: return "none";
    case Error::not_masked: return "client frame not masked";
    case Error::reserved_bits: return "reserved bits set";
    case Error::bad_opcode: return "unknown opcode";
    case Error::bad_control_frame: return "fragmented or oversized control frame";
    case Error::bad_continuation: return "unexpected continuation or data frame";
    case Error::too_big: return "message too big";
    case Error::bad_utf8: return "invalid UTF-8 in text message";
    case Error::bad_close_payload: return "invalid close frame payload";
  }
  return "unknown error";
}

bool valid_utf8(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    // ASCII fast path, 8 bytes at a time.
    if (n - i >= 8) {
      std::uint64_t w = 0;
      std::memcpy(&w, p + i, 8);
      if ((w & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    // Tables 3-7 of the Unicode standard (well-formed byte sequences).
    if (c >= 0xc2 && c <= 0xdf) {
      if (n - i < 2 || (p[i + 1] & 0xc0) != 0x80) return false;
      i += 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      if (n - i < 3) return false;
      const unsigned char c1 = p[i + 1];
      const unsigned char lo = c == 0xe0 ? 0xa0 : 0x80;  // no overlongs
      const unsigned char hi = c == 0xed ? 0x9f : 0xbf;  // no surrogates
      if (c1 < lo || c1 > hi || (p[i + 2] & 0xc0) != 0x80) return false;
      i += 3;
    } else if (c >= 0xf0 && c <= 0xf4) {
      if (n - i < 4) return false;
      const unsigned char c1 = p[i + 1];
      const unsigned char lo = c == 0xf0 ? 0x90 : 0x80;  // no overlongs
      const unsigned char hi = c == 0xf4 ? 0x8f : 0xbf;  // <= U+10FFFF
      if (c1 < lo || c1 > hi || (p[i + 2] & 0xc0) != 0x80 || (p[i + 3] & 0xc0) != 0x80) {
        return false;
      }
      i += 4;
    } else {
      return false;  // continuation byte, 0xc0/0xc1 overlongs, 0xf5+
    }
  }
  return true;
}

std::string accept_key(std::string_view client_key) {
  static constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  // SHA-1 fetched once and one context per thread: the one-shot SHA1() of
  // OpenSSL 3 looks the algorithm up by name on every call.
  static const CHandle<EVP_MD, EVP_MD_free> sha1(EVP_MD_fetch(nullptr, "SHA1", nullptr));
  thread_local const CHandle<EVP_MD_CTX, EVP_MD_CTX_free> ctx(EVP_MD_CTX_new());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (!sha1 || !ctx || !EVP_DigestInit_ex2(ctx.get(), sha1.get(), nullptr) ||
      !EVP_DigestUpdate(ctx.get(), client_key.data(), client_key.size()) ||
      !EVP_DigestUpdate(ctx.get(), kGuid.data(), kGuid.size()) ||
      !EVP_DigestFinal_ex(ctx.get(), digest, &digest_len) || digest_len != SHA_DIGEST_LENGTH) {
    throw std::runtime_error("OpenSSL: SHA-1 failed");
  }
  unsigned char b64[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  const int len = EVP_EncodeBlock(b64, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<const char*>(b64), static_cast<std::size_t>(len));
}

}  // namespace rollcall::ws

namespace rollcall {

bool valid_utf8(std::string_view s) noexcept { return ws::valid_utf8(s); }

}  // namespace rollcall
