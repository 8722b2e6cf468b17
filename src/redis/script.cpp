#include "redis/script.hpp"
#include "common/encoding.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace rollcall::redis {

std::string sha1_hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha1(), nullptr) != 1) {
    throw std::runtime_error("SHA1 is not available from OpenSSL");
  }
  return hex_encode(std::string_view(reinterpret_cast<const char*>(md), len));
}

Script::Script(std::string source) {
  auto sha1 = sha1_hex(source);
  data_ = std::make_shared<const Data>(Data{std::move(source), std::move(sha1)});
}

namespace {

bool is_noscript(const RedisValue& v) {
  return v.type == RedisValue::Type::error && v.str.rfind("NOSCRIPT", 0) == 0;
}

}  // namespace

void Script::run(RedisClient& client, std::vector<std::string> keys, std::vector<std::string> args,
                 RedisClient::Callback cb) const {
  std::vector<std::string> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.emplace_back("EVALSHA");
  argv.push_back(data_->sha1);
  argv.push_back(std::to_string(keys.size()));
  for (auto& k : keys) argv.push_back(std::move(k));
  for (auto& a : args) argv.push_back(std::move(a));
  // The retry needs the arguments again; the source is shared, not copied.
  std::vector<std::string> retry(argv.begin() + 2, argv.end());
  client.command(std::move(argv), [data = data_, w = client.weak_from_this(), retry = std::move(retry),
                                   cb = std::move(cb)](std::error_code ec, RedisValue v) mutable {
    if (ec || !is_noscript(v)) return cb(ec, std::move(v));
    auto c = w.lock();
    if (!c) return cb(RedisError::closed, {});
    std::vector<std::string> eval;
    eval.reserve(2 + retry.size());
    eval.emplace_back("EVAL");
    eval.push_back(data->source);
    for (auto& a : retry) eval.push_back(std::move(a));
    c->command(std::move(eval), std::move(cb));
  });
}

void Script::load(RedisClient& client, RedisClient::Callback cb) const {
  client.command({"SCRIPT", "LOAD", data_->source}, std::move(cb));
}

}  // namespace rollcall::redis
