-- Waiting calls where Lua cannot yield get a message naming the call and the reason.
local ok, err = pcall(table.sort, {3, 2, 1}, function(x, y) rec.sleep(0) return x < y end)
assert(not ok and err:find("rec.sleep cannot wait inside 'table.sort'"), err)

ok, err = pcall(function() table.sort({3, 2, 1}, function(x, y) rec.sleep(0) return x < y end) end)
assert(not ok and err:find("cannot wait inside 'table.sort'"), err)

ok, err = pcall(string.gsub, "abc", "%w", function() rec.sleep(0) end)
assert(not ok and err:find("rec.sleep cannot wait inside 'string.gsub'"), err)

-- Lua 5.4 yields across metamethods called by the VM: waiting in __lt works
local proxy = setmetatable({}, {__lt = function() return rec.sleep(0) end})
assert(pcall(function() return proxy < proxy end))

local co = coroutine.wrap(function() return pcall(rec.sleep, 0.01) end)
local ok2, err2 = co()
assert(not ok2 and err2:find("must run in a task"), err2)

-- a module that waits while it is being required
package.path = "./modules/?.lua;" .. package.path
ok, err = pcall(require, "waits_at_load")
assert(not ok and err:find("rec.sleep cannot wait inside 'require'"), err)

-- pcall itself is yieldable in Lua 5.4: waiting inside it works
local okp, r = pcall(rec.sleep, 0.01)
assert(okp and r == true)

-- bad arguments to bindings are errors that name the argument
ok, err = pcall(rec.sleep, -1)
assert(not ok and err:find("seconds must be >= 0"), err)
ok, err = pcall(rec.every, 0, function() end)
assert(not ok and err:find("seconds must be > 0"), err)
print("engine_yield_limits ok")
