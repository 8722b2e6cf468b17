#include "common/encoding.hpp"
#include "common/c_handle.hpp"

#include <rollcall/server.hpp>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <array>
#include <cstring>
#include <stdexcept>

namespace rollcall {

namespace {

constexpr char kStdAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrlAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Reverse table: 0-63 for alphabet characters, 0xff otherwise.
constexpr std::array<std::uint8_t, 256> make_reverse(const char* alphabet) {
  std::array<std::uint8_t, 256> t{};
  for (auto& v : t) v = 0xff;
  for (std::uint8_t i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = i;
  return t;
}

constexpr auto kStdReverse = make_reverse(kStdAlphabet);
constexpr auto kUrlReverse = make_reverse(kUrlAlphabet);

// Decodes `text` (no padding in it) with `reverse`; rejects characters
// outside the alphabet and non-zero unused trailing bits.
std::optional<std::string> decode_with(std::string_view text, const std::array<std::uint8_t, 256>& reverse) {
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : text) {
    const std::uint8_t v = reverse[static_cast<unsigned char>(c)];
    if (v == 0xff) return std::nullopt;  // bad character, including a misplaced '='
    acc = ((acc << 6) | v) & 0xFFFFFF;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // Leftover bits (2 or 4) must be zero: only the canonical encoding is accepted.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

}  // namespace

void base64_encode_append(std::string& out, std::string_view bytes, Base64 alphabet, bool pad) {
  const char* a = alphabet == Base64::url ? kUrlAlphabet : kStdAlphabet;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  out.reserve(out.size() + (n + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const std::uint32_t v = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8) | p[i + 2];
    out.push_back(a[(v >> 18) & 63]);
    out.push_back(a[(v >> 12) & 63]);
    out.push_back(a[(v >> 6) & 63]);
    out.push_back(a[v & 63]);
  }
  const std::size_t rest = n - i;
  if (rest == 0) return;
  std::uint32_t v = std::uint32_t{p[i]} << 16;
  if (rest == 2) v |= std::uint32_t{p[i + 1]} << 8;
  out.push_back(a[(v >> 18) & 63]);
  out.push_back(a[(v >> 12) & 63]);
  if (rest == 2) out.push_back(a[(v >> 6) & 63]);
  if (pad) out.append(3 - rest, '=');
}

std::string base64_encode(std::string_view bytes, Base64 alphabet, bool pad) {
  std::string out;
  base64_encode_append(out, bytes, alphabet, pad);
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t pad = 0;
  if (!text.empty() && text.back() == '=') pad = text[text.size() - 2] == '=' ? 2 : 1;
  return decode_with(text.substr(0, text.size() - pad), kStdReverse);
}

std::optional<std::string> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  return decode_with(text, kUrlReverse);
}

int base64url_value(char c) noexcept {
  const std::uint8_t v = kUrlReverse[static_cast<unsigned char>(c)];
  return v == 0xff ? -1 : v;
}

std::string hex_encode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bytes.size());
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0x0f]);
  }
  return out;
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    const int hi = i + 2 < s.size() ? hex_value(s[i + 1]) : -1;
    const int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

void HmacSha256::Free::operator()(EVP_MAC_CTX* c) const noexcept { EVP_MAC_CTX_free(c); }

HmacSha256::HmacSha256(std::string_view key) : key_(key) {
  static const CHandle<EVP_MAC, EVP_MAC_free> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!mac) throw std::runtime_error("OpenSSL: no HMAC");
  ctx_.reset(EVP_MAC_CTX_new(mac.get()));
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  static const unsigned char kEmpty = 0;  // a zero-length key needs a valid pointer
  const auto* k = key.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(key.data());
  if (!ctx_ || !EVP_MAC_init(ctx_.get(), k, key.size(), params)) {
    throw std::runtime_error("OpenSSL: cannot set up HMAC-SHA256");
  }
}

std::string HmacSha256::mac(std::initializer_list<std::string_view> parts) {
  // A null key keeps the one set in the constructor.
  bool ok = EVP_MAC_init(ctx_.get(), nullptr, 0, nullptr) == 1;
  for (auto part : parts) {
    ok = ok && EVP_MAC_update(ctx_.get(), reinterpret_cast<const unsigned char*>(part.data()),
                              part.size()) == 1;
  }
  unsigned char out[EVP_MAX_MD_SIZE];
  std::size_t len = 0;
  if (!ok || !EVP_MAC_final(ctx_.get(), out, &len, sizeof out) || len != kSize) {
    throw std::runtime_error("OpenSSL: HMAC-SHA256 failed");
  }
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  return HmacSha256(key).mac({data});
}

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

std::string random_id() {
  std::array<unsigned char, 15> bytes{};
  random_bytes(bytes.data(), bytes.size());
  return base64_encode(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
                       Base64::url, false);
}

std::string redact_url(std::string_view url) {
  auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  auto at = url.find('@', scheme + 3);
  auto colon = url.find(':', scheme + 3);
  if (at == std::string_view::npos || colon == std::string_view::npos || colon > at) return std::string(url);
  return std::string(url.substr(0, colon + 1)) + "***" + std::string(url.substr(at));
}

}  // namespace rollcall
