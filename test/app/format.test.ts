import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {humanDuration, humanSize, instructionText, stepKey, timeAgo, wrap} from '../../source/app/format.js';

describe('figures as docker prints them', () => {
  test('sizes are decimal with three significant digits', () => {
    assert.equal(humanSize(0), '0B');
    assert.equal(humanSize(999), '999B');
    assert.equal(humanSize(1000), '1kB');
    assert.equal(humanSize(45_600), '45.6kB');
    assert.equal(humanSize(7_054_000), '7.05MB');
    assert.equal(humanSize(999_999), '1MB');
    assert.equal(humanSize(1_230_000_000), '1.23GB');
  });

  test('ages read like docker images shows them', () => {
    const now = new Date('2026-11-22T12:00:00Z');
    assert.equal(humanDuration(500), 'Less than a second');
    assert.equal(humanDuration(45_000), '45 seconds');
    assert.equal(humanDuration(90_000), 'About a minute');
    assert.equal(timeAgo('2026-11-22T11:00:00Z', now), 'About an hour ago');
    assert.equal(timeAgo('2026-11-22T10:00:00Z', now), '2 hours ago');
    assert.equal(timeAgo('2026-11-19T12:00:00Z', now), '3 days ago');
    assert.equal(timeAgo(undefined, now), 'N/A');
  });

  test('history instructions lose the shell wrapper and match the build step that made them', () => {
    assert.equal(instructionText('/bin/sh -c #(nop)  ENV PATH=/usr/bin'), 'ENV PATH=/usr/bin');
    assert.equal(instructionText('/bin/sh -c apk add curl'), 'RUN apk add curl');
    assert.equal(instructionText('RUN /bin/sh -c make # buildkit'), 'RUN make');
    assert.equal(instructionText('RUN |1 V=2 /bin/sh -c make # buildkit'), 'RUN |1 V=2 make');
    assert.equal(instructionText('COPY app/ /app/ # buildkit'), 'COPY app/ /app/');
    assert.equal(stepKey('RUN |1 V=2 /bin/sh -c make # buildkit'), stepKey('RUN make'));
  });

  test('long instructions wrap at spaces and never exceed the width', () => {
    const lines = wrap('RUN apt-get update && apt-get install -y curl ca-certificates && rm -rf /var/lib/apt/lists/*', 30);
    assert.ok(lines.every(line => line.length <= 30));
    assert.equal(lines.join(' '), 'RUN apt-get update && apt-get install -y curl ca-certificates && rm -rf /var/lib/apt/lists/*');
  });
});
