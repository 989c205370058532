-- POST /events/fall with the seed's body; device ids rotate over 10 devices like a small home.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"device_id":"esp32-%02d","location":"living_room","event":"fall","prob":0.91}', n % 10)
  return wrk.format(nil, nil, nil, body)
end
