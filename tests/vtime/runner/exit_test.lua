-- Run by tests/vtime/runner.sh, which expects 3 results and exit status 1: a case that calls
-- os.exit is a failed result, never the end of the runner (issue 20, item 7).
local T = require "rec.test"
T.case("os.exit(0) in a case", function(t) os.exit(0) end)
T.case("a case after it runs", function(t) t:ok(true) end)
T.case("a failing case after it is reported", function(t) t:eq(1, 2, "one is two") end)
