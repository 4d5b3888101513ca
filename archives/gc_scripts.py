"""The Lua of locks and blob bookkeeping for background work: the GC lock and the
mirror fetch locks (taken with ``SET NX EX``, renewed and freed only by their
holder), and what GC remembers of blobs no record holds.
"""

from __future__ import annotations

from redisio.calls import Script

# KEYS[1] a lock. ARGV: the holder's token. Frees it if still held by the token.
UNLOCK = Script(
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
)

# KEYS[1] a lock. ARGV: the holder's token, seconds. Extends it if still held.
RENEW = Script(
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
)

# KEYS[1] a blob's GC hash. ARGV: now. When GC first saw the blob held by no
# record (now, if this is the first time).
UNHELD = Script(
    """
redis.call('HSETNX', KEYS[1], 'unheld_since', ARGV[1])
return tonumber(redis.call('HGET', KEYS[1], 'unheld_since'))
"""
)

# KEYS[1] a blob's GC hash, KEYS[2] its scan verdict, KEYS[3] the scan queue.
# ARGV: id. All GC and the scanner keep of a deleted blob goes.
DROP_BLOB = Script(
    """
redis.call('DEL', KEYS[1], KEYS[2])
return redis.call('ZREM', KEYS[3], ARGV[1])
"""
)
