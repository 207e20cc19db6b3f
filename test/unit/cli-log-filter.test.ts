import { describe, expect, it } from 'vitest';
import { terminalLine } from '../../src/cli/log-filter.ts';

describe('terminalLine', () => {
  it.each([
    ['lifecycle info line', '{"level":30,"time":"t","pid":1,"node":"s0a","msg":"listening","url":"http://127.0.0.1:7100"}', '[s0a] listening url=http://127.0.0.1:7100'],
    ['warning', '{"level":40,"msg":"replica lagging","lag":12}', '[s0a] WARN replica lagging lag=12'],
    ['error with err object', '{"level":50,"msg":"boom","err":{"message":"disk full","stack":"..."}}', '[s0a] ERROR boom err=disk full'],
    ['debug line hidden', '{"level":20,"msg":"request"}', null],
    ['not JSON (a crash trace)', 'TypeError: x is not a function', '[s0a] TypeError: x is not a function'],
    ['JSON that is not an object', '42', '[s0a] 42'],
    ['blank line', '   ', null],
  ])('%s', (_name, line, expected) => {
    expect(terminalLine('s0a', line)).toBe(expected);
  });

  it('shortens long values', () => {
    const out = terminalLine('r', JSON.stringify({ level: 30, msg: 'm', big: 'x'.repeat(500) }))!;
    expect(out.length).toBeLessThan(140);
    expect(out.endsWith('…')).toBe(true);
  });

  it('honours a lower minimum level', () => {
    expect(terminalLine('r', '{"level":20,"msg":"detail"}', 20)).toBe('[r] detail');
  });
});
