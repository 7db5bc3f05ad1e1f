import {test, describe} from 'node:test';
import assert from 'node:assert/strict';
import {hasWildcards, matchPath} from '../../engine/build/path-match.js';
import {goDuration, goQuote, goQuotedList, healthcheckHistory, runHistory, copyHistory} from '../../engine/build/history-text.js';
import {createPlainPrinter, stepTitle} from '../../engine/build/progress.js';
import {normalizeWorkdir, parsePortSpecs, validateSignal} from '../../engine/build/image-config.js';
import {resolveDestination} from '../../engine/build/copy.js';
import {contextFilterFrom} from '../../engine/build/ignore.js';

describe('builder pieces', () => {
  test('wildcards follow Go filepath.Match', () => {
    assert.ok(matchPath('*.txt', 'a.txt'));
    assert.ok(!matchPath('*.txt', 'dir/a.txt'), '* never matches /');
    assert.ok(matchPath('file-?.js', 'file-1.js'));
    assert.ok(matchPath('[a-c]x', 'bx'));
    assert.ok(!matchPath('[^a-c]x', 'bx'));
    assert.ok(matchPath('\\*', '*'));
    assert.throws(() => matchPath('[', 'x'), /syntax error in pattern/);
    assert.ok(hasWildcards('src/*.js'));
    assert.ok(!hasWildcards('src/\\*.js'));
  });

  test('history text uses Go formatting as BuildKit does', () => {
    assert.equal(goQuote('a "b"\n\t\x01'), '"a \\"b\\"\\n\\t\\x01"');
    assert.equal(goQuotedList(['/bin/sh', '-c', 'echo hi']), '["/bin/sh" "-c" "echo hi"]');
    assert.equal(goDuration(30e9), '30s');
    assert.equal(goDuration(90e9), '1m30s');
    assert.equal(goDuration(3600e9), '1h0m0s');
    assert.equal(goDuration(1.5e9), '1.5s');
    assert.equal(goDuration(500e6), '500ms');
    assert.equal(goDuration(0), '0s');
    assert.equal(healthcheckHistory({Test: ['CMD', 'true'], Retries: 2}), 'HEALTHCHECK {Test:[CMD true] Interval:0s Timeout:0s StartPeriod:0s StartInterval:0s Retries:2}');
    assert.equal(runHistory(['/bin/sh', '-c', 'make'], [{name: 'A', value: '1'}, {name: 'A', value: '2'}, {name: 'B', value: ''}]), 'RUN |2 A=2 B= /bin/sh -c make # buildkit');
    assert.equal(runHistory(['make'], []), 'RUN make # buildkit');
    assert.equal(copyHistory({add: false, chown: 'app', sources: ['a', 'b'], heredocNames: ['EOF'], dest: '/x/'}), 'COPY --chown=app a b <<EOF /x/ # buildkit');
  });

  test('plain progress lines look like BuildKit plain output', () => {
    let out = '';
    let now = 1000;
    const print = createPlainPrinter({write: text => (out += text), now: () => now});
    const step = {vertex: 5, stage: 'build', index: 2, total: 12, instruction: 'RUN make', line: 4};
    assert.equal(stepTitle(step), '[build  2/12] RUN make');
    print({type: 'step-started', ...step});
    print({type: 'step-miss', ...step, reason: 'src/app.js changed'});
    now = 1250;
    print({type: 'step-output', vertex: 5, stage: 'build', index: 2, total: 12, instruction: 'RUN make', stream: 'stdout', line: 'compiling'});
    print({type: 'step-done', ...step, cached: false, durationMs: 1234});
    assert.equal(out, '#5 [build  2/12] RUN make\n#5 cache miss: src/app.js changed\n#5 0.250 compiling\n#5 DONE 1.2s\n\n');
  });

  test('EXPOSE, STOPSIGNAL, WORKDIR and COPY destinations are read as docker reads them', () => {
    assert.deepEqual(parsePortSpecs(['80', '53/UDP', '8000-8002/tcp', '127.0.0.1:8080:80']), ['80/tcp', '53/udp', '8000/tcp', '8001/tcp', '8002/tcp', '80/tcp']);
    assert.throws(() => parsePortSpecs(['80/xyz']), /invalid proto/);
    validateSignal('SIGTERM');
    validateSignal('9');
    validateSignal('RTMIN+3');
    assert.throws(() => validateSignal('SIGNOPE'), /Invalid signal/);
    assert.equal(normalizeWorkdir('/a/b', '../c'), '/a/c');
    assert.equal(normalizeWorkdir('/a', '/x/./y/'), '/x/y');
    assert.deepEqual(resolveDestination('.', '/app'), {path: 'app', isDir: true});
    assert.deepEqual(resolveDestination('src/', '/app'), {path: 'app/src', isDir: true});
    assert.deepEqual(resolveDestination('/etc/x', '/app'), {path: 'etc/x', isDir: false});
  });

  test('.dockerignore filter hides excluded paths and keeps folders an exception reaches into', () => {
    const filter = contextFilterFrom('node_modules\n!node_modules/keep/x.js\n*.log\n');
    assert.ok(filter.excludes('node_modules/a/b.js'));
    assert.ok(!filter.excludes('node_modules/keep/x.js'));
    assert.ok(filter.mayIncludeBelow('node_modules'));
    assert.ok(filter.excludes('debug.log'));
    assert.ok(!filter.excludes('src/debug.log'), '*.log matches at the root only');
  });
});
