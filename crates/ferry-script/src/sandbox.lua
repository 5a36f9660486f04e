-- The environment Redis 7.0 gives scripts, built once per Lua state by
-- sandbox.rs. It runs with the real globals table and the `internal` table
-- of functions written in Rust; it returns what Rust needs to keep.
--
-- Stock Lua 5.1 has no read-only tables (Redis patches its Lua for that),
-- so every protected table is an empty proxy whose metatable reads from the
-- real table and refuses writes; `pairs`, `next`, `rawget`, `rawset` and
-- `setmetatable` are wrapped so that they see through (or refuse) proxies.
-- Scripts and code they load run with the globals proxy as environment.
--
-- Errors raised here carry Redis's texts. Frames of this chunk ('=ferry')
-- are skipped by the error handler when it looks for the script line that
-- failed, as Redis skips the C function that raised.

local internal, kind = ...
local G = _G
local getinfo = debug.getinfo
local type, tostring, tonumber, error, select, unpack, rawequal, xpcall =
      type, tostring, tonumber, error, select, unpack, rawequal, xpcall
local string_sub, string_find, string_lower = string.sub, string.find, string.lower
local table_concat = table.concat
local INTERNAL = '=ferry'
local setfenv = setfenv

-- Globals Redis does not give scripts.
for _, name in ipairs({'dofile', 'loadfile', 'print', 'getfenv', 'setfenv',
                       'newproxy', 'module', 'require', 'debug', 'package',
                       'os', 'io'}) do
  rawset(G, name, nil)
end

---------------------------------------------------------------------------
-- Errors
---------------------------------------------------------------------------

-- Raises a Redis error table from a redis.* function.
local function raise(msg)
  error({err = msg})
end

-- An error value as scripts see it: errors raised from Rust reach Lua as
-- userdata, and Rust left the Redis error they stand for in `internal`.
local raised = internal.raised
local function as_error(e)
  if type(e) == 'userdata' then
    return raised(e)
  end
  return e
end

-- The message handler of every script and function run: turns the error
-- into a table with the failing script line (Redis's error handler).
local function error_handler(err)
  err = as_error(err)
  local level = 2
  local i = getinfo(level, 'nSl')
  while i and (i.what == 'C' or i.what == 'tail' or i.source == INTERNAL) do
    level = level + 1
    i = getinfo(level, 'nSl')
  end
  if type(err) ~= 'table' then
    err = {err = 'ERR ' .. tostring(err)}
  end
  if i then
    err['source'] = i.source
    err['line'] = i.currentline
  end
  return err
end

---------------------------------------------------------------------------
-- Read-only tables
---------------------------------------------------------------------------

local rawset, rawget, next, pairs, setmetatable, getmetatable =
      rawset, rawget, next, pairs, setmetatable, getmetatable
local backing = internal.backing                    -- proxy -> real table (weak keys)
local proxies = {}                                  -- every proxy, to check after runs

local function readonly()
  error('Attempt to modify a readonly table', 2)
end

local function missing(_, name)
  error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
end

-- What getmetatable returns for a protected table: itself protected.
local hidden_mt = {}
setmetatable(hidden_mt, {__index = {}, __newindex = readonly, __metatable = hidden_mt})
proxies[1] = hidden_mt

local function proxy_of(t)
  local p = {}
  setmetatable(p, {__index = t, __newindex = readonly, __metatable = hidden_mt})
  backing[p] = t
  proxies[#proxies + 1] = p
  return p
end

-- Protects `t` and, recursively, the tables it holds; returns its proxy.
local function protect(t, seen)
  if seen[t] then return seen[t] end
  local p = proxy_of(t)
  seen[t] = p
  for k, v in next, t do
    if type(v) == 'table' and not backing[v] then
      rawset(t, k, protect(v, seen))
    end
  end
  return p
end

local function see(t)
  return backing[t] or t
end

-- Functions written in Rust (builtins.rs): they see through proxies and
-- fail with Lua's and Redis's texts.
local builtins = internal.builtins
for _, name in ipairs({'pairs', 'next', 'rawget', 'rawset', 'setmetatable'}) do
  rawset(G, name, builtins[name])
end

---------------------------------------------------------------------------
-- Loading code: text only, with the scripts' environment
---------------------------------------------------------------------------

local env   -- the globals proxy, set below
do
  local loadstring = loadstring
  -- Redis's Lua refuses binary chunks by compiling them as text.
  local function binary_error(s)
    local first = string.match(s, '^[^%z\n]*') or ''
    return nil, '[string "' .. first .. '"]:1: unexpected symbol near \'char(27)\''
  end
  G.loadstring = function(s, name)
    if type(s) == 'string' and string_sub(s, 1, 1) == '\27' then
      return binary_error(s)
    end
    local f, e = loadstring(s, name)
    if f then setfenv(f, env) end
    return f, e
  end
  local load = load
  G.load = function(reader, name)
    if type(reader) ~= 'function' then
      local f, e = load(reader, name)
      return f, e
    end
    local parts = {}
    while true do
      local piece = reader()
      if piece == nil or piece == '' then break end
      if type(piece) ~= 'string' then return nil, 'reader function must return a string' end
      parts[#parts + 1] = piece
    end
    return G.loadstring(table_concat(parts), name or '=(load)')
  end
end

---------------------------------------------------------------------------
-- pcall, xpcall and coroutines: Redis 7 error tables and SCRIPT KILL
---------------------------------------------------------------------------

do
  local pcall, xpcall = pcall, xpcall
  local killed = internal.killed
  -- A killed script may not swallow the kill.
  local function check_killed(e)
    if killed() then error(e, 0) end
  end
  local function pcall_result(ok, ...)
    if ok then return true, ... end
    local e = as_error((...))
    check_killed(e)
    if type(e) == 'table' then
      local m = e.err
      if type(m) == 'string' or type(m) == 'number' then return false, m end
    end
    return false, e
  end
  G.pcall = function(...) return pcall_result(pcall(...)) end
  local function xpcall_result(ok, ...)
    if not ok then check_killed((...)) end
    return ok, ...
  end
  G.xpcall = function(f, handler)
    return xpcall_result(xpcall(f, function(e)
      e = as_error(e)
      if killed() then return e end
      return handler(e)
    end))
  end
  local resume = coroutine.resume
  local function resume_result(ok, ...)
    if not ok then
      local e = as_error((...))
      check_killed(e)
      return false, e
    end
    return true, ...
  end
  coroutine.resume = function(co, ...) return resume_result(resume(co, ...)) end
end

---------------------------------------------------------------------------
-- math.random: Redis's own generator, the same on every platform
---------------------------------------------------------------------------

math.random = builtins.random
math.randomseed = builtins.randomseed

---------------------------------------------------------------------------
-- The redis table
---------------------------------------------------------------------------

local redis = {}

local function error_reply_table(s)
  -- luaPushErrorBuff: "-CODE message", or ERR when there is one word.
  if string_sub(s, 1, 1) ~= '-' then s = '-' .. s end
  local space = string_find(s, ' ', 1, true)
  local code, msg
  if space then
    code, msg = string_sub(s, 2, space - 1), string_sub(s, space + 1)
  else
    code, msg = 'ERR', string_sub(s, 2)
  end
  msg = string.gsub(msg, '^[\r\n]+', '')
  msg = string.gsub(msg, '[\r\n]+$', '')
  return {err = code .. ' ' .. msg}
end

redis.error_reply = function(...)
  local s = ...
  if select('#', ...) ~= 1 or type(s) ~= 'string' then
    return {err = 'ERR wrong number or type of arguments'}
  end
  return error_reply_table(s)
end

redis.status_reply = function(...)
  local s = ...
  if select('#', ...) ~= 1 or type(s) ~= 'string' then
    return {err = 'ERR wrong number or type of arguments'}
  end
  return {ok = s}
end

redis.sha1hex = builtins.sha1hex
redis.log = builtins.log
redis.setresp = builtins.setresp
redis.set_repl = builtins.set_repl
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.REDIS_VERSION = internal.version
redis.REDIS_VERSION_NUM = internal.version_num
-- redis.call, redis.pcall and redis.acl_check_cmd are set by Rust for each
-- run (they reach the server through that run's host).

if kind == 'eval' then
  redis.breakpoint = function() return false end
  redis.debug = function() end
  redis.replicate_commands = function() return true end
end

---------------------------------------------------------------------------
-- FUNCTION LOAD: the library API
---------------------------------------------------------------------------

local library_api
if kind == 'function' then
  local FLAGS = {['no-writes'] = 1, ['allow-oom'] = 2, ['allow-stale'] = 4, ['no-cluster'] = 8}
  local function read_flags(t)
    local bits = 0
    local j = 1
    while true do
      local f = t[j]
      if f == nil then break end
      if type(f) ~= 'string' and type(f) ~= 'number' then raise('ERR unknown flag given') end
      local bit = FLAGS[string_lower(tostring(f))]
      if not bit then raise('ERR unknown flag given') end
      if bits % (2 * bit) < bit then bits = bits + bit end
      j = j + 1
    end
    return bits
  end
  local function is_string(v) return type(v) == 'string' or type(v) == 'number' end
  local register_function = function(...)
    if not internal.loading() then
      raise('ERR redis.register_function can only be called on FUNCTION LOAD command')
    end
    local n = select('#', ...)
    if n < 1 or n > 2 then raise('ERR wrong number of arguments to redis.register_function') end
    local name, callback, flags, desc
    if n == 1 then
      local t = ...
      if type(t) ~= 'table' then
        raise('ERR calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).')
      end
      for k, v in next, t do
        if not is_string(k) then raise('ERR named argument key given to redis.register_function is not a string') end
        local key = string_lower(tostring(k))
        if key == 'function_name' then
          if not is_string(v) then raise('ERR function_name argument given to redis.register_function must be a string') end
          name = tostring(v)
        elseif key == 'description' then
          if not is_string(v) then raise('ERR description argument given to redis.register_function must be a string') end
          desc = tostring(v)
        elseif key == 'callback' then
          if type(v) ~= 'function' then raise('ERR callback argument given to redis.register_function must be a function') end
          callback = v
        elseif key == 'flags' then
          if type(v) ~= 'table' then raise('ERR flags argument to redis.register_function must be a table representing function flags') end
          flags = read_flags(v)
        else
          raise('ERR unknown argument given to redis.register_function')
        end
      end
      if not name then raise('ERR redis.register_function must get a function name argument') end
      if not callback then raise('ERR redis.register_function must get a callback argument') end
    else
      name, callback = ...
      if not is_string(name) then raise('ERR first argument to redis.register_function must be a string') end
      if type(callback) ~= 'function' then raise('ERR second argument to redis.register_function must be a function') end
      name = tostring(name)
    end
    local err = internal.register(name, callback, flags or 0, desc)
    if err then raise('ERR ' .. err) end
  end
  local lib_redis = {
    register_function = register_function,
    log = redis.log,
    LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
    REDIS_VERSION = redis.REDIS_VERSION, REDIS_VERSION_NUM = redis.REDIS_VERSION_NUM,
  }
  setmetatable(lib_redis, {__index = missing})
  library_api = {redis = lib_redis}
  setmetatable(library_api, {__index = missing})
end

---------------------------------------------------------------------------
-- Protect everything and build the scripts' environment
---------------------------------------------------------------------------

G.redis = redis
if kind == 'eval' then
  G.__redis__err__handler = error_handler
end
G._G = nil
local seen = {}
for k, v in next, G do
  if type(v) == 'table' then rawset(G, k, protect(v, seen)) end
end
if library_api then
  library_api = protect(library_api, seen)
end

-- The string metatable reads from the protected string table.
local string_mt = getmetatable('')
string_mt.__index = rawget(G, 'string')
string_mt.__metatable = proxy_of({__index = rawget(G, 'string')})

setmetatable(G, {__index = missing})
local env_mt = {__index = G, __newindex = readonly, __metatable = hidden_mt}
env = setmetatable({}, env_mt)
backing[env] = G
proxies[#proxies + 1] = env
rawset(G, '_G', env)

-- Undoes anything stored in a proxy behind the metatables' back. The
-- functions that could write raw into one (rawset, table.insert) refuse
-- proxies, so this is a safety net, run every few runs (it costs about as
-- much as a short script).
local runs = 0
local function after_run()
  for i = 1, #proxies do
    local p = proxies[i]
    if next(p) ~= nil then
      for k in next, p do rawset(p, k, nil) end
    end
  end
end

-- Runs f inside the error handler, as a function with KEYS and ARGV
-- arguments, or as an EVAL script with them as globals. One entry per run
-- from Rust: each call across costs.
local function run(f, keys, args, as_function)
  local ok, result
  if as_function then
    ok, result = xpcall(function() return f(keys, args) end, error_handler)
  else
    if keys ~= nil then
      rawset(G, 'KEYS', keys)
      rawset(G, 'ARGV', args)
    end
    ok, result = xpcall(f, error_handler)
  end
  runs = runs + 1
  if runs >= 64 then
    runs = 0
    after_run()
  end
  return ok, result
end

-- FUNCTION LOAD runs library code with the library API as globals.
local function set_loading(loading)
  env_mt.__index = loading and library_api or G
end

return {
  env = env,
  redis = redis,
  backing = backing,
  run = run,
  set_loading = set_loading,
  error_handler = error_handler,
}
