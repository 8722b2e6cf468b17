#include "cluster/presence_lua.hpp"

namespace rollcall::cluster::lua {

namespace {

// Shared by every script: ARGV[1] is the key prefix.
constexpr const char* kPrelude = R"lua(
local P = ARGV[1]
local function num(x) return string.format('%.0f', x) end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function alive(nk) return redis.call('ZSCORE', P .. ':nodes', nk) ~= false end
local function next_seq(floor, now)
  local k = P .. ':seq'
  local s = redis.call('INCR', k)
  if s == 1 then
    s = math.max(floor, now * 1000) + 1
    redis.call('SET', k, num(s))
  elseif s <= floor then
    s = floor + 1
    redis.call('SET', k, num(s))
  end
  return s
end
)lua";

std::string script(const char* body) { return std::string(kPrelude) + body; }

}  // namespace

const std::string& register_node() {
  static const std::string s = script(R"lua(
local now = now_ms()
local epoch = redis.call('INCR', P .. ':epoch')
local nk = ARGV[2] .. '#' .. epoch
redis.call('ZADD', P .. ':nodes', num(now + tonumber(ARGV[3])), nk)
redis.call('HSET', P .. ':node:' .. nk, 'details', ARGV[4], 'started', num(now))
local gen = redis.call('GET', P .. ':gen')
if not gen then
  gen = ARGV[5]
  redis.call('SET', P .. ':gen', gen)
end
return {nk, epoch, num(now), gen}
)lua");
  return s;
}

const std::string& renew() {
  static const std::string s = script(R"lua(
local nk = ARGV[2]
if not alive(nk) then return {'fenced'} end
local now = now_ms()
redis.call('ZADD', P .. ':nodes', 'XX', num(now + tonumber(ARGV[3])), nk)
return {'ok', num(now)}
)lua");
  return s;
}

const std::string& leave() {
  static const std::string s = script(R"lua(
if not alive(ARGV[2]) then return {'fenced'} end
if redis.call('SCARD', P .. ':nc:' .. ARGV[2]) == 0 then
  -- nothing to reap: the node is gone at once
  redis.call('ZREM', P .. ':nodes', ARGV[2])
  redis.call('DEL', P .. ':node:' .. ARGV[2])
  return {'ok'}
end
redis.call('ZADD', P .. ':nodes', 'XX', 0, ARGV[2])
return {'ok'}
)lua");
  return s;
}

const std::string& connect() {
  static const std::string s = script(R"lua(
local nk, user, sid = ARGV[2], ARGV[3], ARGV[4]
if not alive(nk) then return {'fenced'} end
local ukey = P .. ':u:' .. user
if redis.call('HSET', ukey, 'c:' .. nk .. ':' .. sid, ARGV[5]) == 1 then
  redis.call('HINCRBY', ukey, '!n', 1)
  redis.call('SADD', P .. ':nc:' .. nk, sid .. '\31' .. user)
end
if redis.call('HGET', ukey, '!online') == '1' then
  redis.call('ZREM', P .. ':grace', user)
  return {'ok'}
end
local now = now_ms()
local seq = num(next_seq(tonumber(ARGV[8]), now))
local n = redis.call('HGET', ukey, '!n')
redis.call('HSET', ukey, '!online', '1', '!seq', seq, '!since', num(now), '!name', ARGV[6],
           '!orgs', ARGV[7])
redis.call('SADD', P .. ':online', user)
for _, o in ipairs(cjson.decode(ARGV[7])) do redis.call('SADD', P .. ':org:' .. o.id, user) end
if ARGV[10] ~= '0' then
  redis.call('XADD', P .. ':outbox', '*', 'id', ARGV[9], 'type', 'user.online', 'user', user,
             'seq', seq, 'at', num(now), 'connections', n)
end
return {'ok', 'online', seq, num(now), n}
)lua");
  return s;
}

const std::string& restore() {
  static const std::string s = script(R"lua(
local nk, user, sid = ARGV[2], ARGV[3], ARGV[4]
if not alive(nk) then return {'fenced'} end
local ukey = P .. ':u:' .. user
if redis.call('EXISTS', ukey) == 0 then
  -- Online before Redis lost its data: online again, without an event.
  local seq = tonumber(redis.call('GET', P .. ':seq') or '0')
  redis.call('HSET', ukey, '!online', '1', '!seq', num(math.max(seq, tonumber(ARGV[8]))),
             '!since', num(now_ms()), '!n', 0, '!name', ARGV[6], '!orgs', ARGV[7])
  redis.call('SADD', P .. ':online', user)
  for _, o in ipairs(cjson.decode(ARGV[7])) do redis.call('SADD', P .. ':org:' .. o.id, user) end
end
if redis.call('HSET', ukey, 'c:' .. nk .. ':' .. sid, ARGV[5]) == 1 then
  redis.call('HINCRBY', ukey, '!n', 1)
  redis.call('SADD', P .. ':nc:' .. nk, sid .. '\31' .. user)
end
redis.call('ZREM', P .. ':grace', user)
return {'ok'}
)lua");
  return s;
}

const std::string& disconnect() {
  static const std::string s = script(R"lua(
local nk, user, sid = ARGV[2], ARGV[3], ARGV[4]
if not alive(nk) then return {'fenced'} end
local ukey = P .. ':u:' .. user
if redis.call('HDEL', ukey, 'c:' .. nk .. ':' .. sid) == 0 then return {'ok', -1} end
redis.call('SREM', P .. ':nc:' .. nk, sid .. '\31' .. user)
local n = redis.call('HINCRBY', ukey, '!n', -1)
if n <= 0 then
  redis.call('ZADD', P .. ':grace', num(now_ms() + tonumber(ARGV[5])), user)
end
return {'ok', n}
)lua");
  return s;
}

const std::string& sweep() {
  static const std::string s = script(R"lua(
local nk = ARGV[2]
if not alive(nk) then return {'fenced'} end
local grace, floor, idp = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local max_users, max_reap = tonumber(ARGV[6]), tonumber(ARGV[7])
local now = now_ms()
local out = {'ok', 0, 0}
-- Nodes whose lease ran out: claimed here (the ZREM happens once), their
-- connections set aside to be removed a chunk per call.
local dead = redis.call('ZRANGEBYSCORE', P .. ':nodes', '-inf', '(' .. num(now))
for _, d in ipairs(dead) do
  redis.call('ZREM', P .. ':nodes', d)
  redis.call('DEL', P .. ':node:' .. d)
  if redis.call('EXISTS', P .. ':nc:' .. d) == 1 then
    redis.call('RENAME', P .. ':nc:' .. d, P .. ':reap:' .. d)
    redis.call('ZADD', P .. ':reaping', num(now), d)
  end
end
out[3] = #dead
local budget = max_reap
for _, d in ipairs(redis.call('ZRANGE', P .. ':reaping', 0, -1)) do
  if budget <= 0 then break end
  local members = redis.call('SPOP', P .. ':reap:' .. d, budget)
  budget = budget - #members
  for _, m in ipairs(members) do
    local cut = string.find(m, '\31', 1, true)
    local sid, user = string.sub(m, 1, cut - 1), string.sub(m, cut + 1)
    local ukey = P .. ':u:' .. user
    if redis.call('HDEL', ukey, 'c:' .. d .. ':' .. sid) == 1 then
      if redis.call('HINCRBY', ukey, '!n', -1) <= 0 then
        redis.call('ZADD', P .. ':grace', num(now + grace), user)
      end
    end
  end
  if redis.call('EXISTS', P .. ':reap:' .. d) == 0 then redis.call('ZREM', P .. ':reaping', d) end
end
if redis.call('EXISTS', P .. ':reaping') == 1 then out[2] = 1 end
-- Graces that ended: users still without a connection go offline.
local due = redis.call('ZRANGEBYSCORE', P .. ':grace', '-inf', num(now), 'LIMIT', 0, max_users)
for i, user in ipairs(due) do
  redis.call('ZREM', P .. ':grace', user)
  local ukey = P .. ':u:' .. user
  local st = redis.call('HMGET', ukey, '!n', '!online', '!orgs')
  if (tonumber(st[1]) or 0) <= 0 then
    if st[2] == '1' then
      local seq = next_seq(floor, now)
      floor = seq
      local orgs = st[3] or '[]'
      redis.call('SREM', P .. ':online', user)
      for _, o in ipairs(cjson.decode(orgs)) do
        redis.call('SREM', P .. ':org:' .. o.id, user)
      end
      local id = idp .. '-' .. i
      if ARGV[8] ~= '0' then
        redis.call('XADD', P .. ':outbox', '*', 'id', id, 'type', 'user.offline', 'user', user,
                   'seq', num(seq), 'at', num(now), 'connections', '0')
      end
      table.insert(out, user)
      table.insert(out, num(seq))
      table.insert(out, num(now))
      table.insert(out, orgs)
      table.insert(out, id)
    end
    redis.call('DEL', ukey)
  end
end
if #due == max_users then out[2] = 1 end
return out
)lua");
  return s;
}

}  // namespace rollcall::cluster::lua
