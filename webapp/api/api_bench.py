"""The pieces of `manage.py bench_api`: wrk scripts that call the API with a token (GETs
cycling through collectors, or POSTs of events with unique ids), and the gallery's plan."""

import json
import random
import urllib.parse

from webapp.curation.load_bench import LUA_DONE, WRK_MARKER, lua_string

# As webapp/curation/load_bench.py's script, with a bearer token, optional JSON bodies
# (each event id made unique by the thread's offset and a counter) and 2xx counted as ok.
LUA = """-- written by manage.py bench_api
local paths = {%(paths)s}
local token = %(token)s
local event = %(event)s
local threads = {}

function setup(thread)
  thread:set("first", #threads * 7919)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  counter = first or 0
  not_ok = 0
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local path = paths[(counter %% #paths) + 1]
  if event == "" then return wrk.format("GET", path) end
  local body = string.format(event, "bench-" .. %(run)s .. "-" .. tid .. "-" .. counter)
  return wrk.format("POST", "/api/v1/events", nil, body)
end

function response(status, headers, body)
  if status < 200 or status > 299 then not_ok = not_ok + 1 end
end

"""
LUA += LUA_DONE


def api_script(*, paths: list[str], token: str, event_body: str = "", run: str = "0") -> str:
    """GETs of `paths` in turn; with event_body (a JSON text with one %s for the event id),
    POSTs of events instead, the path list then only varying the collector in the body."""
    if not paths:
        raise ValueError("wrk needs at least one path to request")
    return LUA % {
        "paths": ", ".join(lua_string(p) for p in paths),
        "token": lua_string(token),
        "event": lua_string(event_body),
        "run": lua_string(run),
        "marker": WRK_MARKER,
    }


def recommendation_paths(collectors: list[str], method: str, k: int, n: int, seed: int = 0):
    rng = random.Random(seed)
    query = urllib.parse.urlencode({"k": k, **({"method": method} if method else {})})
    return [
        f"/api/v1/collectors/{urllib.parse.quote(rng.choice(collectors), safe='')}"
        f"/recommendations?{query}"
        for _ in range(n)
    ]


def event_body(collector: str, work: str) -> str:
    """A view event's JSON with %s where wrk puts the event id (Lua's string.format)."""
    text = json.dumps({"event_id": "EVENT", "kind": "view", "work": work, "collector": collector})
    return text.replace("%", "%%").replace('"EVENT"', '"%s"')
