-- rec._testrun (internal): the main task of one `recwatch test` case: loads the test file,
-- then either lists its cases or runs one of them and reports how it went.
local T = require "rec.test"
local native = require "rec.test.native"

local function describe(err, file)
  if getmetatable(err) == T._Failure then return err.message end
  local lines = { tostring(err) }
  local tb = debug.traceback("", 2)
  for line in tb:gmatch("[^\n]+") do  -- where in the test file it happened
    if line:find(file, 1, true) then lines[#lines + 1] = line:gsub("^%s+", "") end
  end
  return table.concat(lines, "\n")
end

-- rec.exit would freeze the case's engine while the scripts' clock runs on: not for cases
rec.exit = function() error("rec.exit is for scripts, not test cases (end the case by returning)", 2) end

return function(file, mode, index)
  local chunk, err = loadfile(file, "t")
  if not chunk then return native.load_error(err) end
  local ok, e = pcall(chunk)
  if not ok then return native.load_error(tostring(e)) end
  if mode == "list" then
    local names = {}
    for i, c in ipairs(T._cases) do names[i] = c.name end
    return native.list(names)
  end
  local c = T._cases[tonumber(index)]
  if not c then return native.load_error(("%s: case %s is gone (the file registers cases conditionally?)"):format(file, index)) end
  local t = setmetatable({}, T._Case)
  local short = file:match("[^/]+$")
  local ran, rerr = xpcall(c.fn, function(x) return describe(x, short) end, t)
  native.report(ran, rerr)
end
