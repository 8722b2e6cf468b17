// A Redis (RESP2) reply, deep-owned.
#pragma once

#include <string>
#include <vector>

namespace rollcall::redis {

struct RedisValue {
  enum class Type { nil, string, status, error, integer, array };
  Type type = Type::nil;
  std::string str;          // string (binary-safe), status and error text
  long long integer = 0;
  std::vector<RedisValue> elements;  // array
};

}  // namespace rollcall::redis
