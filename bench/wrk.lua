-- Requests for wrk, read from a file with one request per line:
--   METHOD <tab> URL [<tab> JSON body]
-- Arguments (after wrk's `--`): the file, "random" or "sequence", wrk's thread count.
-- random: each request is a line picked at random. sequence: the lines in order,
-- each sent once (DELETE, which must find a stash every time); the threads take
-- turns. done() prints the run's figures as one JSON line starting "WRK_JSON".
-- Not for HEAD: wrk waits for the body a HEAD response announces (bench/load.py).

local threads_started = 0

function setup(thread)
  threads_started = threads_started + 1
  thread:set("thread_number", threads_started)
end

local requests, order, step, index

function init(args)
  order = args[2]
  step = tonumber(args[3])
  index = thread_number - step
  math.randomseed(os.time() * 1000 + thread_number)
  requests = {}
  for line in io.lines(args[1]) do
    local method, url, body = line:match("^(%u+)\t([^\t]+)\t?(.*)$")
    local headers = {}
    for name, value in pairs(wrk.headers) do
      headers[name] = value
    end
    if body == "" then
      body = nil
    else
      headers["Content-Type"] = "application/json"
    end
    requests[#requests + 1] = wrk.format(method, url, headers, body)
  end
end

function request()
  if order == "random" then
    return requests[math.random(#requests)]
  end
  -- Past the end the lines repeat; their 404s then show up as errors.
  index = index + step
  return requests[(index - 1) % #requests + 1]
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, '
      .. '"connect_errors": %d, "read_errors": %d, "write_errors": %d, '
      .. '"timeouts": %d, "non_2xx_3xx": %d, '
      .. '"p50_us": %d, "p99_us": %d, "mean_us": %.1f, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max
  ))
end
