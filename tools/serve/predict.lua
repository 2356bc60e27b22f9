-- wrk script: POST /predict with real SST-2 sentences, K sentences per request.
--
--   wrk -t2 -c32 -d15s --timeout 30s --latency -s tools/serve/predict.lua http://127.0.0.1:8080 \
--       -- [SENTENCES_FILE] [K]
--
-- SENTENCES_FILE: an SST-2 style TSV (header `sentence<TAB>label`; the first column is sent) or a
-- file with one text per line. Defaults: env EMBER_WRK_SENTENCES, else examples/data/sst2/dev.tsv
-- (relative to the directory wrk runs in). K: sentences per request, env EMBER_WRK_K, else 1.
-- K = 1 sends {"inputs": "text"}; K > 1 sends {"inputs": ["t1", ..., "tK"]}. Each wrk thread
-- cycles through the sentences (thread t starts at sentence floor(t * 0.618 * N) mod N), K at a time,
-- wrapping around; the request bodies are built once in init(), so request() costs nothing.
-- Env EMBER_WRK_PATH changes the path (default /predict).
--
-- No response() callback (it slows wrk down): non-2xx responses are summary.errors.status.
-- Every request carries exactly K sentences, so sentences = (requests - non-2xx) * K.
-- done() prints one machine-readable line (after wrk's own report):
--   WRK_RESULT {"requests":...,"non2xx":...,"socket_errors":...,"errors":...,"duration_s":...,
--               "k":...,"sentences":...,"sentences_per_s":...,"requests_per_s":...,
--               "p50_ms":...,"p90_ms":...,"p99_ms":...,"max_ms":...}
-- errors = non-2xx + socket errors (connect, read, write, timeout). Latencies are wrk's
-- (completed requests only; wrk is closed-loop, one request in flight per connection).

local threads = {}
local counter = 0

function setup(thread)
   thread:set("id", counter)
   table.insert(threads, thread)
   counter = counter + 1
end

local function json_string(s)
   s = s:gsub('[%c"\\]', function(c)
      if c == '"' then return '\\"' end
      if c == '\\' then return '\\\\' end
      if c == '\n' then return '\\n' end
      if c == '\t' then return '\\t' end
      if c == '\r' then return '\\r' end
      return string.format('\\u%04x', c:byte())
   end)
   return '"' .. s .. '"'
end

local function read_sentences(path)
   local f, err = io.open(path, "r")
   if not f then
      io.stderr:write("predict.lua: cannot open sentences file " .. path .. ": " .. tostring(err) .. "\n")
      os.exit(2)
   end
   local out, first, tsv = {}, true, false
   for line in f:lines() do
      line = line:gsub("\r$", "")
      if first then
         first = false
         tsv = line:find("\t") ~= nil
         if not tsv then
            local s = line:match("^%s*(.-)%s*$")
            if s ~= "" then table.insert(out, s) end
         end  -- a TSV's first line is its header
      else
         local s = tsv and line:match("^([^\t]*)") or line
         s = s:match("^%s*(.-)%s*$")
         if s ~= "" then table.insert(out, s) end
      end
   end
   f:close()
   if #out == 0 then
      io.stderr:write("predict.lua: no sentences in " .. path .. "\n")
      os.exit(2)
   end
   return out
end

function init(args)
   local path = args[1] or os.getenv("EMBER_WRK_SENTENCES") or "examples/data/sst2/dev.tsv"
   k = tonumber(args[2] or os.getenv("EMBER_WRK_K") or "1")
   if not k or k < 1 or k ~= math.floor(k) then
      io.stderr:write("predict.lua: K must be a positive integer\n")
      os.exit(2)
   end
   local sentences = read_sentences(path)
   local n = #sentences
   -- Threads start far apart (golden-ratio offsets), whatever their number.
   local start = math.floor((id or 0) * n * 0.6180339887) % n
   local headers = { ["Content-Type"] = "application/json" }
   local urlpath = os.getenv("EMBER_WRK_PATH") or "/predict"
   -- One body per start position start, start + K, ... until the cycle closes (n / gcd(n, K)).
   requests = {}
   local pos = start
   repeat
      local body
      if k == 1 then
         body = '{"inputs":' .. json_string(sentences[pos + 1]) .. '}'
      else
         local parts = {}
         for j = 0, k - 1 do
            parts[#parts + 1] = json_string(sentences[(pos + j) % n + 1])
         end
         body = '{"inputs":[' .. table.concat(parts, ",") .. ']}'
      end
      requests[#requests + 1] = wrk.format("POST", urlpath, headers, body)
      pos = (pos + k) % n
   until pos == start
   nreq = #requests
   i = 0
end

function request()
   i = i % nreq + 1
   return requests[i]
end

function done(summary, latency, requests_)
   local k = 1
   if threads[1] then k = tonumber(threads[1]:get("k")) or 1 end
   local e = summary.errors
   local socket = e.connect + e.read + e.write + e.timeout
   local ok = summary.requests - e.status
   if ok < 0 then ok = 0 end
   local dur = summary.duration / 1e6
   local function ms(us) return us / 1000.0 end
   local function fmt(x) return string.format("%.3f", x) end
   local p50, p90, p99, mx = 0, 0, 0, 0
   if summary.requests > 0 then
      p50, p90, p99, mx = latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max
   end
   io.write(string.format(
      'WRK_RESULT {"requests":%d,"non2xx":%d,"socket_errors":%d,"errors":%d,"duration_s":%s,' ..
      '"k":%d,"sentences":%d,"sentences_per_s":%s,"requests_per_s":%s,' ..
      '"p50_ms":%s,"p90_ms":%s,"p99_ms":%s,"max_ms":%s}\n',
      summary.requests, e.status, socket, e.status + socket, fmt(dur),
      k, ok * k, fmt(ok * k / dur), fmt(summary.requests / dur),
      fmt(ms(p50)), fmt(ms(p90)), fmt(ms(p99)), fmt(ms(mx))))
end
