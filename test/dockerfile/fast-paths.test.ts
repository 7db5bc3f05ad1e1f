/**
 * The parser reads the common shapes (exec-form JSON without escapes, quoted ENV/LABEL/ARG words, whole-number
 * durations) on fast paths and hands everything else to the general code. These tests hold each fast path to
 * the general rule it stands in for, on many generated inputs, so a later speed-up cannot change a result.
 */
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {parseAst, parseWords, parseGoDuration, DockerfileSyntaxError} from '../../engine/dockerfile/index.js';
import {prng} from './prng.js';


function pieces(random: () => number, alphabet: readonly string[], count: number): string {
  let text = '';
  for (let i = 0; i < count; i++) text += alphabet[Math.floor(random() * alphabet.length)];
  return text;
}

test('an exec-form array gives exactly what JSON.parse gives, and anything JSON.parse rejects stays shell form', () => {
  const random = prng(0x15a);
  const inString = ['a', 'b c', ' ', '\t', ',', '[', ']', "'", '\\"', '\\\\', '\\n', '\\u0041', 'é', '😀', '\u0001', '\u007f'];
  const element = () => (random() < 0.9 ? `"${pieces(random, inString, Math.floor(random() * 4))}"` : pieces(random, ['1', 'null', '{}', '[]', 'true'], 1));
  const space = () => pieces(random, ['', '', ' ', '\t', '  '], 1);
  const noise = ['"', ',', ']', '[', ' ', '\\', 'x', '\u0001'];
  let exec = 0;
  let shell = 0;
  for (let i = 0; i < 5000; i++) {
    const count = Math.floor(random() * 4);
    let array = '[' + space() + Array.from({length: count}, () => element() + space()).join(',' + space()) + ']' + space();
    if (random() < 0.4) {
      // damage it somewhere
      const at = 1 + Math.floor(random() * array.length); // the leading [ stays
      array = array.slice(0, at) + pieces(random, noise, 1) + array.slice(at + (random() < 0.5 ? 1 : 0));
    }
    array = array.trimEnd();
    if (array.endsWith('\\')) continue; // that would continue the line
    let expected: unknown;
    try {
      expected = JSON.parse(array);
    } catch {
      expected = undefined;
    }
    const where = JSON.stringify(array);
    if (Array.isArray(expected) && expected.some(item => typeof item !== 'string')) {
      assert.throws(() => parseAst(`CMD ${array}\n`), DockerfileSyntaxError, where);
      continue;
    }
    const node = parseAst(`CMD ${array}\n`).children[0];
    if (Array.isArray(expected)) {
      exec++;
      assert.equal(node.json, true, where);
      assert.deepEqual(node.args, expected, where);
    } else {
      shell++;
      assert.equal(node.json, false, where);
      assert.deepEqual(node.args, [array], where);
    }
    assert.equal(node.original, `CMD ${array}`, 'the logical line is kept as written');
  }
  assert.ok(exec > 500 && shell > 500, `both forms are exercised (${exec} exec, ${shell} shell)`);
});

/** The word-splitting rule written as a plain scan: the reference the parser's single-regex split must match. */
function referenceWords(rest: string, escape: string): string[] {
  const isSpace = (ch: string) => /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/.test(ch);
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote = '';
  let blankOk = false;
  for (let i = 0; i < rest.length; i++) {
    const ch = rest[i];
    if (!quote && isSpace(ch)) {
      if (inWord && (blankOk || word !== '')) words.push(word);
      word = '';
      inWord = false;
      blankOk = false;
      continue;
    }
    inWord = true;
    if (quote && ch === quote) quote = '';
    else if (!quote && (ch === '"' || ch === "'")) {
      quote = ch;
      blankOk = true;
    } else if (ch === escape && quote !== "'") {
      if (i + 1 === rest.length) break; // a trailing escape token is dropped
      word += ch;
      i++;
      word += rest[i];
      continue;
    }
    word += ch;
  }
  if (inWord && (blankOk || word !== '')) words.push(word);
  return words;
}

test('ENV, LABEL and ARG words keep quotes and escapes and split only at unquoted, unescaped spaces', () => {
  const random = prng(0xe4f);
  const alphabet = ['a', 'b', '=', ' ', ' ', '\t', '\u00a0', '"', "'", '\\', '`', '$X', 'x y', '\ufeff', 'é', '😀'];
  for (let i = 0; i < 20000; i++) {
    const rest = pieces(random, alphabet, Math.floor(random() * 10));
    for (const escape of ['\\', '`']) {
      assert.deepEqual(parseWords(rest, escape), referenceWords(rest, escape), `${JSON.stringify(rest)} with escape ${escape}`);
    }
  }
});

test('whole-number durations read as the general duration grammar reads them', () => {
  const units: Record<string, number> = {ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9};
  for (const [unit, nanoseconds] of Object.entries(units)) {
    for (const digits of ['0', '1', '30', '007', '999999999999999']) {
      assert.equal(parseGoDuration(digits + unit), Math.round(Number(digits) * nanoseconds), digits + unit);
      assert.equal(parseGoDuration(`-${digits}${unit}`), -Math.round(Number(digits) * nanoseconds), `-${digits}${unit}`);
    }
  }
  assert.equal(parseGoDuration('1m30s'), 90e9, 'several parts add up');
  assert.equal(parseGoDuration('1.5s'), 1.5e9, 'a fraction');
  assert.equal(parseGoDuration('30'), undefined, 'a number without a unit is malformed');
  assert.equal(parseGoDuration('30x'), undefined, 'an unknown unit is malformed');
  assert.equal(parseGoDuration('0'), 0, 'a bare 0 needs no unit');
});
