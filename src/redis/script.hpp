// A Lua script run with EVALSHA: the source and its SHA1 (computed locally),
// so that the script travels once per Redis process rather than once per
// call.
//
// run() sends EVALSHA. When Redis answers NOSCRIPT (its script cache is
// empty after a restart, a failover or SCRIPT FLUSH), run() sends the script
// once more as EVAL, which runs it and caches it for the next EVALSHA; the
// reply of that EVAL is the result, whatever it is (never a second retry).
// Nothing else is retried. Results come as RedisClient's: an error_code for
// transport failures, a Redis error reply (including one raised by the
// script) as a value of type error. The callback is posted, never inline.
//
// Scripts must name every key they touch in `keys` (Redis Cluster routes
// and checks by them). A Script is cheap to copy (the source is shared) and
// immutable; use it from any thread, a RedisClient from its own.
#pragma once

#include "redis/redis_client.hpp"

#include <memory>
#include <string>
#include <vector>

namespace rollcall::redis {

class Script {
 public:
  explicit Script(std::string source);

  const std::string& source() const noexcept { return data_->source; }
  const std::string& sha1() const noexcept { return data_->sha1; }  // 40 lowercase hex digits

  // EVALSHA sha1 numkeys keys... args..., with the NOSCRIPT fallback above.
  void run(RedisClient& client, std::vector<std::string> keys, std::vector<std::string> args,
           RedisClient::Callback cb) const;

  // SCRIPT LOAD, for who wants the cache warm (or a syntax error) up front.
  // The value is the SHA1 as Redis computed it.
  void load(RedisClient& client, RedisClient::Callback cb) const;

 private:
  struct Data {
    std::string source;
    std::string sha1;
  };
  std::shared_ptr<const Data> data_;
};

// The lowercase hex SHA1 of `bytes`, as Redis names scripts.
std::string sha1_hex(std::string_view bytes);

}  // namespace rollcall::redis
