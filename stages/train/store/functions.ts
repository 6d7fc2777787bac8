/**
 * The Redis Function library (Lua, `FUNCTION LOAD REPLACE` on every master at open).
 *
 *     hc_read   KEYS = sentinel, blocks…   ARGV = fingerprint, rowBytes, pairs
 *               → the requested rows, concatenated (pairs: int32 LE (key index ≥ 2, row in block));
 *               a row never written (missing key, or past the key's end) comes back as zero bytes
 *     hc_update KEYS = sentinel, blocks…   ARGV = fingerprint, dim, kind, lr, eps, pairs, grads,
 *                                                 olds, news, fresh
 *               applies the optimizer to each row on the server (atomic per call, so concurrent
 *               writers never lose an update); grads = fp32 LE, one accumulated gradient per row;
 *               olds = the rows as the writer used them; fresh = one byte per row, 1 where the
 *               writer read the row as never written and used its initial value (lazy-init.ts).
 *               With news (what the writer computed; '' = gradients only): a row still equal to its
 *               old bytes is set to the new ones (the same arithmetic's result, ≈ 3× cheaper than
 *               Lua floats); a row another writer changed meanwhile is updated from its current
 *               value and the gradient. → the count of such rows (conflicts)
 *
 * Lazy rows: the store holds only rows that were written. A never-written row is all-zero bytes
 * (no key, or SETRANGE's zero padding of a block); readers substitute its seeded initial value,
 * computed from its id (lazy-init.ts), and a writer that did so says it (fresh), so the server
 * takes the writer's old bytes as the row's current value. An all-zero row is never a written
 * one: with row-wise Adagrad a written row has an accumulator > 0 (an update with a non-zero
 * gradient) or its initial weights (U(±sqrt(1/rows)) draws, all d of them 0 with probability
 * 2^−32d); with SGD all d weights would have to land on exactly +0.0. A zero row the writer read
 * as written is a lost row (HCLOST).
 *
 * The arithmetic is the trainer's (model/embedding.ts) step for step in doubles, rounded to fp32
 * where the trainer stores (struct.pack '<f'), so one writer gets the memory backend's values bit
 * for bit. A missing or foreign sentinel, or a malformed block, is an error starting `HCLOST`.
 *
 * Rows are read with GETRANGE and written with SETRANGE, never whole blocks: Lua interns every
 * string it is handed, and copying a 2 KiB block per row made reads 1.7× slower (123k vs 204k rows
 * per CPU-second on this machine); one MGET/MSET of all blocks per call, with each block rebuilt
 * in Lua, was slower still (≈ 35k updated rows per CPU-second against ≈ 80k with SETRANGE).
 */
import { LAYOUT_VERSION } from './layout.js';

/** Keys per Function call at most (sentinel included): bounds how long one call blocks its node. */
export const MAX_KEYS = 2000;

export const LIBRARY_NAME = `hotcold_v${LAYOUT_VERSION}`;
export const FN_READ = `hc_read_v${LAYOUT_VERSION}`;
export const FN_UPDATE = `hc_update_v${LAYOUT_VERSION}`;

export const LIBRARY_CODE = `#!lua name=${LIBRARY_NAME}
local function lost(key, v)
  if v then return redis.error_reply('HCLOST ' .. key .. ' holds another fingerprint') end
  return redis.error_reply('HCLOST ' .. key .. ' is missing')
end

local function hc_read(keys, args)
  local fp, rb, idx = args[1], tonumber(args[2]), args[3]
  local s = redis.call('GET', keys[1])
  if s ~= fp then return lost(keys[1], s) end
  local zero = string.rep('\0', rb)
  local out = {}
  local n = #idx / 8
  for i = 0, n - 1 do
    local k, r = struct.unpack('<i4i4', idx, i * 8 + 1)
    local row = redis.call('GETRANGE', keys[k], r * rb, r * rb + rb - 1)
    if #row == 0 then row = zero elseif #row ~= rb then return lost(keys[k], false) end
    out[i + 1] = row
  end
  return table.concat(out)
end

local function hc_update(keys, args)
  local fp, d, kind, lr, eps, idx, g = args[1], tonumber(args[2]), args[3], tonumber(args[4]), tonumber(args[5]), args[6], args[7]
  local olds, news, fresh = args[8], args[9], args[10]
  local fast = #news > 0
  local s = redis.call('GET', keys[1])
  if s ~= fp then return lost(keys[1], s) end
  local ada = kind == 'adagrad'
  local nf = d
  if ada then nf = d + 1 end
  local rb = nf * 4
  local zero = string.rep('\0', rb)
  local wfmt = '<' .. string.rep('f', d)
  local rfmt = '<' .. string.rep('f', nf)
  local invD = 1 / d
  local n = #idx / 8
  local nw = {}
  local slow = 0
  for i = 0, n - 1 do
    local k, r = struct.unpack('<i4i4', idx, i * 8 + 1)
    local cur = redis.call('GETRANGE', keys[k], r * rb, r * rb + rb - 1)
    local old = string.sub(olds, i * rb + 1, i * rb + rb)
    if #cur == 0 then cur = zero elseif #cur ~= rb then return lost(keys[k], false) end
    if cur == zero then
      -- never written: its value is the initial one, which the writer read it as (fresh) and sent
      if string.byte(fresh, i + 1) ~= 1 then return lost(keys[k], false) end
      cur = old
    end
    local new
    if fast and cur == old then
      -- the row is what the writer computed from: its result is this very arithmetic's
      new = string.sub(news, i * rb + 1, i * rb + rb)
    else
      slow = slow + 1
      local row = { struct.unpack(rfmt, cur) }
      local gr = { struct.unpack(wfmt, g, i * d * 4 + 1) }
      if ada then
        local sq = 0
        for j = 1, d do local x = gr[j]; sq = sq + x * x end
        local m = row[nf] + sq * invD
        local step = lr / (math.sqrt(m) + eps)
        for j = 1, d do nw[j] = row[j] - step * gr[j] end
        nw[nf] = m
      else
        for j = 1, d do nw[j] = row[j] - lr * gr[j] end
      end
      new = struct.pack(rfmt, unpack(nw, 1, nf))
    end
    redis.call('SETRANGE', keys[k], r * rb, new)
  end
  return slow
end

redis.register_function{function_name='${'hc_read_v' + LAYOUT_VERSION}', callback=hc_read, flags={'no-writes'}}
redis.register_function('${'hc_update_v' + LAYOUT_VERSION}', hc_update)
`;
