/**
 * The dump format of BuildKit's parser tests (`testfiles/<case>/result`), one instruction a line:
 * `(copy ["--from=a"] "src" "/dst")`, `(onbuild (run "echo" "test"))`. Lowercased keyword, flags as a bracketed
 * list, then every argument as a Go-quoted string. `strata dockerfile check --dump` prints it so a parse can be
 * compared with BuildKit's byte for byte.
 */
import type {InstructionNode} from './parser.js';

/** Dump one AST node (without the trailing newline). */
export function dumpNode(node: InstructionNode): string {
  let text = node.keyword.toLowerCase();
  if (node.flags.length > 0) text += ` [${node.flags.map(goQuote).join(' ')}]`;
  if (node.child) text += ` (${dumpNode(node.child)})`;
  for (const arg of node.args) text += ` ${goQuote(arg)}`;
  return text;
}

/** Dump every node, one `(...)` line each, with a final newline, as the conformance `result` files are. */
export function dumpAst(nodes: readonly InstructionNode[]): string {
  return nodes.map(node => `(${dumpNode(node)})\n`).join('');
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
const SHORT_ESCAPES: Record<string, string> = {
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
};

/** Go's strconv.Quote: printable characters as they are, everything else escaped. */
export function goQuote(text: string): string {
  let out = '"';
  for (const ch of text) {
    if (ch === '"' || ch === '\\') {
      out += '\\' + ch;
      continue;
    }
    if (PRINTABLE.test(ch)) {
      out += ch;
      continue;
    }
    const short = SHORT_ESCAPES[ch];
    if (short) {
      out += short;
      continue;
    }
    const code = ch.codePointAt(0) as number;
    if (code >= 0xd800 && code <= 0xdfff) out += '\\ufffd';
    else if (code < 0x20 || code === 0x7f) out += '\\x' + code.toString(16).padStart(2, '0');
    else if (code < 0x10000) out += '\\u' + code.toString(16).padStart(4, '0');
    else out += '\\U' + code.toString(16).padStart(8, '0');
  }
  return out + '"';
}
