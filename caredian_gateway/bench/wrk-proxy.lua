-- POST a fixed analysis request; with BENCH_TOKENS, each request carries the next pre-signed,
-- unique X-Auth-Token (the gateway refuses a reused jti).
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("BENCH_KEY")
if key and key ~= "" then wrk.headers["Authorization"] = "Bearer " .. key end
local tokens = nil
local n = 0
local file = os.getenv("BENCH_TOKENS")
local stride, offset = 1, 0

function setup(thread)
  thread:set("id", offset)
  offset = offset + 1
end

function init(args)
  if file and file ~= "" then
    tokens = {}
    for line in io.lines(file) do tokens[#tokens + 1] = line end
  end
  stride = tonumber(os.getenv("BENCH_THREADS") or "1")
  n = (id or 0)
end

request = function()
  if tokens then
    n = n + stride
    wrk.headers["X-Auth-Token"] = tokens[n]
  end
  return wrk.format()
end
