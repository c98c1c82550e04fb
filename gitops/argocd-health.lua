-- Argo CD health of ops.commandbridge.io FailoverPlan and MaintenanceWindow.
--
-- Reads the kstatus-style conditions the operator writes, so Argo CD agrees with Flux and
-- with `kubectl wait --for=condition=Ready`:
--   status older than the spec (observedGeneration < generation)  -> Progressing
--   Stalled=True                                                  -> Degraded
--   Ready=True, observed at the current generation                -> Healthy
--   Ready not True, reason AwaitingApproval or Suspended          -> Suspended
--   anything else (Reconciling=True, no status yet, Ready=False)  -> Progressing
--
-- Written for Argo CD's Lua 5.1 runtime: no goto, no integer division, no bit operators.

local hs = {}

local function condition(conditions, kind)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function describe(c, fallback)
  if c == nil then
    return fallback
  end
  local text = c.message
  if text == nil or text == "" then
    text = fallback
  end
  if c.reason ~= nil and c.reason ~= "" then
    return c.reason .. ": " .. text
  end
  return text
end

-- A condition written for an older generation says nothing about the current spec.
local function current(c, generation)
  if c == nil then
    return false
  end
  if generation == nil or c.observedGeneration == nil then
    return true
  end
  return c.observedGeneration >= generation
end

local generation = nil
if obj.metadata ~= nil then
  generation = obj.metadata.generation
end

local status = obj.status
if status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end

if generation ~= nil and status.observedGeneration ~= nil and status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end

local conditions = status.conditions
local ready = condition(conditions, "Ready")
local stalled = condition(conditions, "Stalled")
local reconciling = condition(conditions, "Reconciling")

if stalled ~= nil and stalled.status == "True" and current(stalled, generation) then
  hs.status = "Degraded"
  hs.message = describe(stalled, "Stalled")
  return hs
end

if ready ~= nil and ready.status == "True" and current(ready, generation) then
  hs.status = "Healthy"
  hs.message = describe(ready, "Ready")
  return hs
end

local function waiting_on_a_person(c)
  return c ~= nil
    and c.status ~= "Unknown"
    and (c.reason == "AwaitingApproval" or c.reason == "Suspended")
    and current(c, generation)
end

local paused = nil
if waiting_on_a_person(ready) then
  paused = ready
elseif waiting_on_a_person(reconciling) then
  paused = reconciling
end
if paused ~= nil then
  hs.status = "Suspended"
  hs.message = describe(paused, paused.reason)
  return hs
end

hs.status = "Progressing"
if reconciling ~= nil and reconciling.status == "True" then
  hs.message = describe(reconciling, "Reconciling")
elseif ready ~= nil then
  hs.message = describe(ready, "Not ready")
else
  hs.message = "Waiting for the operator to report conditions"
end
return hs
