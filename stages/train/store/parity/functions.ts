/**
 * The parity store's Function library (Lua; `FUNCTION LOAD REPLACE` on every node it connects to).
 *
 *     hp_read  KEYS = sentinel, blocks…  ARGV = fp, rowBytes, pairs             → the rows, concatenated
 *     hp_cas   KEYS = sentinel, blocks…  ARGV = fp, rowBytes, pairs, olds, news → 0; every row is first
 *              checked to still hold `olds` (else HCCONFLICT, nothing written), then set to `news`
 *     hp_xor   KEYS = sentinel, blocks…  ARGV = fp, rowBytes, pairs, deltas, intent key, intent value, done keys
 *              XORs each delta into its row (a missing block or row counts as zeros: SETRANGE pads),
 *              records the intent (SET, when a key is given) and deletes the intents named done
 *              (space separated), all in one atomic call → 0
 *
 *     hp_bxor  KEYS = sentinel, scratch key, blocks…  ARGV = fp, lengths (int32 LE, one per block), bytes,
 *              intent key, intent value, done keys
 *              whole-block XOR: each block's bytes (its length given) are XORed onto the block
 *              natively (BITOP XOR through the scratch key, deleted at the end; a missing block
 *              counts as empty, a shorter operand as zero-padded), then the intent and the done
 *              list as hp_xor, all in one atomic call → 0
 *
 * pairs: int32 LE (key index ≥ 2, row in block). hp_bxor serves the parity nodes (a batch's deltas
 * summed per parity block, with the intent record of the update) and the rebuild's chunk writes
 * (the rebuilt blocks onto the deltas since the mark); hp_xor the rows of data blocks being
 * rebuilt (deltas onto the value the rebuild writes).
 * A missing or foreign sentinel is an error starting HCLOST (the node restarted empty).
 */
import { PARITY_LAYOUT } from './layout.js';

export const PARITY_LIBRARY = `hotcold_parity_v${PARITY_LAYOUT}`;
export const FN_PREAD = `hp_read_v${PARITY_LAYOUT}`;
export const FN_PCAS = `hp_cas_v${PARITY_LAYOUT}`;
export const FN_PXOR = `hp_xor_v${PARITY_LAYOUT}`;
export const FN_PBXOR = `hp_bxor_v${PARITY_LAYOUT}`;

export const PARITY_CODE = `#!lua name=${PARITY_LIBRARY}
local function check(keys, fp)
  local s = redis.call('GET', keys[1])
  if s == fp then return nil end
  if s then return redis.error_reply('HCLOST ' .. keys[1] .. ' holds another fingerprint') end
  return redis.error_reply('HCLOST ' .. keys[1] .. ' is missing')
end

local function hp_read(keys, args)
  local e = check(keys, args[1]); if e then return e end
  local rb, idx = tonumber(args[2]), args[3]
  local out = {}
  for i = 0, #idx / 8 - 1 do
    local k, r = struct.unpack('<i4i4', idx, i * 8 + 1)
    local row = redis.call('GETRANGE', keys[k], r * rb, r * rb + rb - 1)
    if #row ~= rb then return redis.error_reply('HCLOST ' .. keys[k] .. ' is missing') end
    out[i + 1] = row
  end
  return table.concat(out)
end

local function hp_cas(keys, args)
  local e = check(keys, args[1]); if e then return e end
  local rb, idx, olds, news = tonumber(args[2]), args[3], args[4], args[5]
  local n = #idx / 8
  for i = 0, n - 1 do
    local k, r = struct.unpack('<i4i4', idx, i * 8 + 1)
    local cur = redis.call('GETRANGE', keys[k], r * rb, r * rb + rb - 1)
    if #cur ~= rb then return redis.error_reply('HCLOST ' .. keys[k] .. ' is missing') end
    if cur ~= string.sub(olds, i * rb + 1, i * rb + rb) then
      return redis.error_reply('HCCONFLICT ' .. keys[k] .. ' row ' .. r .. ' changed since it was read (another writer?)')
    end
  end
  for i = 0, n - 1 do
    local k, r = struct.unpack('<i4i4', idx, i * 8 + 1)
    redis.call('SETRANGE', keys[k], r * rb, string.sub(news, i * rb + 1, i * rb + rb))
  end
  return 0
end

local function hp_xor(keys, args)
  local e = check(keys, args[1]); if e then return e end
  local rb, idx, dl = tonumber(args[2]), args[3], args[4]
  local nw = rb / 4
  local fmt = '<' .. string.rep('i4', nw)
  local x = {}
  for i = 0, #idx / 8 - 1 do
    local k, r = struct.unpack('<i4i4', idx, i * 8 + 1)
    local cur = redis.call('GETRANGE', keys[k], r * rb, r * rb + rb - 1)
    if #cur == rb then
      local dv = { struct.unpack(fmt, dl, i * rb + 1) }
      local cv = { struct.unpack(fmt, cur) }
      for w = 1, nw do x[w] = bit.bxor(cv[w], dv[w]) end
      redis.call('SETRANGE', keys[k], r * rb, struct.pack(fmt, unpack(x, 1, nw)))
    else
      redis.call('SETRANGE', keys[k], r * rb, string.sub(dl, i * rb + 1, i * rb + rb))
    end
  end
  if args[5] ~= '' then redis.call('SET', args[5], args[6]) end
  if args[7] ~= '' then
    for key in string.gmatch(args[7], '%S+') do redis.call('DEL', key) end
  end
  return 0
end

local function hp_bxor(keys, args)
  local e = check(keys, args[1]); if e then return e end
  local lens, bytes, at = args[2], args[3], 1
  for i = 0, #lens / 4 - 1 do
    local n = struct.unpack('<i4', lens, i * 4 + 1)
    redis.call('SET', keys[2], string.sub(bytes, at, at + n - 1))
    redis.call('BITOP', 'XOR', keys[i + 3], keys[i + 3], keys[2])
    at = at + n
  end
  if #lens > 0 then redis.call('DEL', keys[2]) end
  if args[4] ~= '' then redis.call('SET', args[4], args[5]) end
  if args[6] ~= '' then
    for key in string.gmatch(args[6], '%S+') do redis.call('DEL', key) end
  end
  return 0
end

redis.register_function{function_name='${FN_PREAD}', callback=hp_read, flags={'no-writes'}}
redis.register_function('${FN_PCAS}', hp_cas)
redis.register_function('${FN_PXOR}', hp_xor)
redis.register_function('${FN_PBXOR}', hp_bxor)
`;
