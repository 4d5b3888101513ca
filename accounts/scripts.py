"""The Lua of every account round trip that is a script (`accounts.store`).

All their keys share the ``{accounts}`` hash tag, so each script touches one Redis
Cluster slot. Keys a script can only learn from the data (a user's API keys, its
tokens, the user behind a token) are built from a prefix given in ARGV, or stored
whole, in that same slot; the script asks for them in KEYS before it touches them
(`redisio.calls.DECLARE_PRELUDE`).
"""

from __future__ import annotations

from redisio.calls import DECLARE_PRELUDE, Script

# held(index) names the token keys listed in the token index `index`;
# revoke(index, held) deletes them, then the index.
_REVOKE = """
local function held(index)
  local keys = redis.call('ZRANGE', index, 0, -1)
  for _, key in ipairs(keys) do need(key) end
  return keys
end

local function revoke(index, keys)
  for i = 1, #keys, 1000 do
    redis.call('DEL', unpack(keys, i, math.min(i + 999, #keys)))
  end
  redis.call('DEL', index)
end
"""

# KEYS[1] user, KEYS[2] user index, KEYS[3] its token index. ARGV: name, password
# hash, created_at, generated. created_at is kept when the user exists already; a
# new password ends the user's tokens.
PUT_USER = Script(
    DECLARE_PRELUDE
    + _REVOKE
    + """
local tokens = held(KEYS[3])
local more = missing()
if more then return more end
redis.call('HSETNX', KEYS[1], 'created_at', ARGV[3])
redis.call('HSET', KEYS[1], 'password', ARGV[2], 'generated', ARGV[4])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
revoke(KEYS[3], tokens)
return 1
"""
)

# KEYS[1] user, KEYS[2] user index, KEYS[3] key index, KEYS[4] its token index.
# ARGV: name, key hash prefix. Deletes the user, every API key and token of theirs.
DELETE_USER = Script(
    DECLARE_PRELUDE
    + _REVOKE
    + """
local digests = redis.call('ZRANGE', KEYS[3], 0, -1)
for _, digest in ipairs(digests) do need(ARGV[2] .. digest) end
local tokens = held(KEYS[4])
local more = missing()
if more then return more end
for _, digest in ipairs(digests) do
  local key = ARGV[2] .. digest
  if redis.call('HGET', key, 'username') == ARGV[1] then
    redis.call('DEL', key)
    redis.call('ZREM', KEYS[3], digest)
  end
end
revoke(KEYS[4], tokens)
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('DEL', KEYS[1])
""",
    convert=bool,
)

# KEYS[1] user index, then the user hashes. ARGV: user hash prefix. Returns {name,
# generated, ...} by name.
USERS = Script(
    DECLARE_PRELUDE
    + """
local names = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, name in ipairs(names) do need(ARGV[1] .. name) end
local more = missing()
if more then return more end
local out = {}
for _, name in ipairs(names) do
  out[#out + 1] = name
  out[#out + 1] = redis.call('HGET', ARGV[1] .. name, 'generated') or '0'
end
return out
""",
    write=False,
)

# KEYS[1] user index, then the user hashes. ARGV: user hash prefix, lex start,
# count. Returns {last name read ('' when the index ended), name, password hash,
# created_at, generated, ...}; a name whose hash is gone is left out. For backups.
USER_PAGE = Script(
    DECLARE_PRELUDE
    + """
local names = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[2], '+', 'LIMIT', 0, ARGV[3])
for _, name in ipairs(names) do need(ARGV[1] .. name) end
local more = missing()
if more then return more end
local out = {''}
if #names == tonumber(ARGV[3]) then out[1] = names[#names] end
for _, name in ipairs(names) do
  local f = redis.call('HMGET', ARGV[1] .. name, 'password', 'created_at', 'generated')
  if f[1] then
    out[#out + 1] = name
    out[#out + 1] = f[1]
    out[#out + 1] = f[2] or '0'
    out[#out + 1] = f[3] or '0'
  end
end
return out
"""
)

# KEYS[1] key, KEYS[2] key index, KEYS[3] the user. ARGV: digest, username,
# created_by, created_at. Returns 0 when the user does not exist.
PUT_KEY = Script(
    """
if redis.call('EXISTS', KEYS[3]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'username', ARGV[2], 'created_by', ARGV[3],
           'created_at', ARGV[4])
if ARGV[5] and ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'scopes', ARGV[5]) end
redis.call('ZADD', KEYS[2], 0, ARGV[1])
return 1
""",
    convert=bool,
)

# KEYS[1] key, KEYS[2] key index. ARGV: digest.
DELETE_KEY = Script(
    """
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('DEL', KEYS[1])
""",
    convert=bool,
)

# KEYS[1] key, KEYS[2] the new user. ARGV: expected current username, new username.
SET_KEY_USER = Script(
    """
local current = redis.call('HGET', KEYS[1], 'username')
if not current then return 0 end
if current ~= ARGV[1] then return -1 end
if redis.call('EXISTS', KEYS[2]) == 0 then return -2 end
redis.call('HSET', KEYS[1], 'username', ARGV[2])
return 1
"""
)

# KEYS[1] key index, then the key hashes. ARGV: key hash prefix, lex start, count.
# Returns {last digest read ('' when the index ended), digest, username,
# created_by, created_at, ...}; a digest whose hash is gone is left out.
KEY_PAGE = Script(
    DECLARE_PRELUDE
    + """
local digests = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[2], '+', 'LIMIT', 0, ARGV[3])
for _, digest in ipairs(digests) do need(ARGV[1] .. digest) end
local more = missing()
if more then return more end
local out = {''}
if #digests == tonumber(ARGV[3]) then out[1] = digests[#digests] end
for _, digest in ipairs(digests) do
  local f = redis.call('HMGET', ARGV[1] .. digest, 'username', 'created_by',
                       'created_at', 'scopes')
  if f[1] then
    out[#out + 1] = digest
    out[#out + 1] = f[1]
    out[#out + 1] = f[2] or ''
    out[#out + 1] = f[3] or ''
    out[#out + 1] = f[4] or ''
  end
end
return out
""",
    write=False,
)

# KEYS[1] the user, KEYS[2] its token index, KEYS[3] access token, KEYS[4]
# (optional) a new refresh token. ARGV: username, expires_at, seconds to keep them.
# Returns 0, storing nothing, when the user does not exist (any more).
PUT_TOKENS = Script(
    """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local now = tonumber(redis.call('TIME')[1])
local keep = tonumber(ARGV[3])
redis.call('HSET', KEYS[3], 'username', ARGV[1], 'expires_at', ARGV[2])
redis.call('EXPIRE', KEYS[3], keep)
redis.call('ZADD', KEYS[2], now + keep, KEYS[3])
if KEYS[4] then
  redis.call('SET', KEYS[4], ARGV[1], 'EX', keep)
  redis.call('ZADD', KEYS[2], now + keep, KEYS[4])
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. now)
if redis.call('TTL', KEYS[2]) < keep then redis.call('EXPIRE', KEYS[2], keep) end
return 1
""",
    convert=bool,
)

# KEYS[1] the user's token index, KEYS[2...] token keys to forget.
REVOKE_TOKENS = Script(
    """
redis.call('ZREM', KEYS[1], unpack(KEYS, 2))
return redis.call('DEL', unpack(KEYS, 2))
"""
)

# KEYS[1] refresh token. Returns {username or false, TTL}.
REFRESH_USER = Script(
    """
return {redis.call('GET', KEYS[1]), redis.call('TTL', KEYS[1])}
""",
    write=False,
)

# Every credential lookup starts with this. KEYS[1] the failures of the client's
# address; ARGV[1] how many are allowed, ARGV[2] the window (s). Replies are
# {found value or false, outcome, failures, ms left in the window}, outcome 0 when
# the check passed, 1 when it failed (and was counted), 2 when the address was
# throttled already (nothing was looked up).
_THROTTLE = """
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local failures = tonumber(redis.call('GET', KEYS[1]) or '0')
local function left()
  local ms = redis.call('PTTL', KEYS[1])
  if ms < 0 then
    redis.call('EXPIRE', KEYS[1], window)
    ms = window * 1000
  end
  return ms
end
local function failed()
  failures = redis.call('INCR', KEYS[1])
  return {false, 1, failures, left()}
end
if failures >= limit then return {false, 2, failures, left()} end
"""

# KEYS[2] the user. The password hash, or false: the caller checks the password.
PASSWORD = Script(
    _THROTTLE
    + """
return {redis.call('HGET', KEYS[2], 'password'), 0, failures, 0}
""",
    write=False,
)

# Counts a failure the caller found (a wrong password, a malformed header).
FAILED = Script(_THROTTLE + "return failed()\n", write=False)

# KEYS[2] the API key, then its user's hash (the caller declares the one it
# expects; the script asks for it otherwise). ARGV[3] user hash prefix. The user of
# the key, if it exists, and its scopes (JSON; '' for none).
APIKEY = Script(
    DECLARE_PRELUDE
    + _THROTTLE
    + """
local key = redis.call('HMGET', KEYS[2], 'username', 'scopes')
local user = key[1]
if user then need(ARGV[3] .. user) end
local more = missing()
if more then return more end
if user and redis.call('EXISTS', ARGV[3] .. user) == 1 then
  return {user, 0, failures, 0, key[2] or ''}
end
return failed()
""",
    write=False,
)

# KEYS[2] the access token, then its user's hash (as APIKEY). ARGV[3] user hash
# prefix, ARGV[4] now (Unix s), ARGV[5] '1' to accept an expired token (to refresh
# it). Its user, if it exists.
ACCESS = Script(
    DECLARE_PRELUDE
    + _THROTTLE
    + """
local token = redis.call('HMGET', KEYS[2], 'username', 'expires_at')
local user = token[1]
if user then need(ARGV[3] .. user) end
local more = missing()
if more then return more end
if user and redis.call('EXISTS', ARGV[3] .. user) == 1
    and (ARGV[5] == '1' or tonumber(token[2] or '0') > tonumber(ARGV[4])) then
  return {user, 0, failures, 0}
end
return failed()
""",
    write=False,
)
