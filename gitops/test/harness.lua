-- Runs argocd-health.lua against each case file and compares the health it returns.
--
--   lua harness.lua SCRIPT CASE.json...
--
-- A case file is JSON: {"object": {...}, "expected": {"status": "...", "message": "..."}}.
-- "message", when present, must occur in the returned message. Exits 1 if any case fails.

-- A small JSON reader: objects, arrays, strings (with \uXXXX below 0x80 and the usual
-- escapes), numbers, true, false, null. Enough for hand-written test cases.
local function decode(text)
  local pos = 1

  local function fail(what)
    error(string.format("JSON: %s at byte %d", what, pos), 0)
  end

  local function skip_space()
    pos = text:find("[^ \t\r\n]", pos) or (#text + 1)
  end

  local value

  local function read_string()
    pos = pos + 1
    local parts = {}
    while true do
      local c = text:sub(pos, pos)
      if c == "" then
        fail("unterminated string")
      elseif c == '"' then
        pos = pos + 1
        return table.concat(parts)
      elseif c == "\\" then
        local e = text:sub(pos + 1, pos + 1)
        local simple = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }
        if simple[e] then
          parts[#parts + 1] = simple[e]
          pos = pos + 2
        elseif e == "u" then
          local code = tonumber(text:sub(pos + 2, pos + 5), 16)
          if code == nil or code > 127 then
            fail("unsupported \\u escape")
          end
          parts[#parts + 1] = string.char(code)
          pos = pos + 6
        else
          fail("bad escape")
        end
      else
        parts[#parts + 1] = c
        pos = pos + 1
      end
    end
  end

  local function read_number()
    local literal = text:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
    if literal == nil or literal == "" then
      fail("bad number")
    end
    pos = pos + #literal
    return tonumber(literal)
  end

  local function read_array()
    pos = pos + 1
    local items = {}
    skip_space()
    if text:sub(pos, pos) == "]" then
      pos = pos + 1
      return items
    end
    while true do
      items[#items + 1] = value()
      skip_space()
      local c = text:sub(pos, pos)
      pos = pos + 1
      if c == "]" then
        return items
      elseif c ~= "," then
        fail("expected , or ]")
      end
    end
  end

  local function read_object()
    pos = pos + 1
    local fields = {}
    skip_space()
    if text:sub(pos, pos) == "}" then
      pos = pos + 1
      return fields
    end
    while true do
      skip_space()
      if text:sub(pos, pos) ~= '"' then
        fail("expected a key")
      end
      local key = read_string()
      skip_space()
      if text:sub(pos, pos) ~= ":" then
        fail("expected :")
      end
      pos = pos + 1
      fields[key] = value()
      skip_space()
      local c = text:sub(pos, pos)
      pos = pos + 1
      if c == "}" then
        return fields
      elseif c ~= "," then
        fail("expected , or }")
      end
    end
  end

  value = function()
    skip_space()
    local c = text:sub(pos, pos)
    if c == "{" then
      return read_object()
    elseif c == "[" then
      return read_array()
    elseif c == '"' then
      return read_string()
    elseif text:sub(pos, pos + 3) == "true" then
      pos = pos + 4
      return true
    elseif text:sub(pos, pos + 4) == "false" then
      pos = pos + 5
      return false
    elseif text:sub(pos, pos + 3) == "null" then
      pos = pos + 4
      return nil
    end
    return read_number()
  end

  local result = value()
  skip_space()
  if pos <= #text then
    fail("trailing characters")
  end
  return result
end

local function read_file(path)
  local file = assert(io.open(path, "rb"))
  local text = file:read("*a")
  file:close()
  return text
end

-- Argo CD runs the script with the resource as the global `obj`.
local function health(script_path, object)
  local env = setmetatable({ obj = object }, { __index = _G })
  local chunk
  if setfenv ~= nil then
    chunk = assert(loadfile(script_path))
    setfenv(chunk, env)
  else
    chunk = assert(loadfile(script_path, "t", env))
  end
  return chunk()
end

local script_path = arg[1]
local passed, failed = 0, 0

for i = 2, #arg do
  local case_path = arg[i]
  local ok, problem = pcall(function()
    local case = decode(read_file(case_path))
    local hs = health(script_path, case.object)
    local expected = case.expected
    if hs.status ~= expected.status then
      error(string.format("status %s, want %s (message: %s)", tostring(hs.status), expected.status, tostring(hs.message)), 0)
    end
    if expected.message ~= nil and (hs.message == nil or not hs.message:find(expected.message, 1, true)) then
      error(string.format("message %q does not contain %q", tostring(hs.message), expected.message), 0)
    end
  end)
  local name = case_path:match("([^/]+)%.json$") or case_path
  if ok then
    passed = passed + 1
    print("ok     " .. name)
  else
    failed = failed + 1
    print("FAILED " .. name .. ": " .. tostring(problem))
  end
end

print(string.format("%d passed, %d failed", passed, failed))
if failed > 0 then
  os.exit(1)
end
