-- wrk script for scripts/bench-serve.sh: each request searches a random tile of the file
-- named by $CATALOG_TILES (one per line) in a random year from 2015 to 2024. Each wrk
-- thread draws from a generator seeded apart from the others.
local tiles = {}
for line in io.lines(os.getenv("CATALOG_TILES")) do
  tiles[#tiles + 1] = line
end
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("seed", threads * 7919)
end

function init()
  math.randomseed(seed)
end

function request()
  local tile = tiles[math.random(#tiles)]
  local year = math.random(2015, 2024)
  return wrk.format("GET", "/search?q=tile:" .. tile .. "%20AND%20date:" .. year)
end
