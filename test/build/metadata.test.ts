import {test, describe} from 'node:test';
import assert from 'node:assert/strict';
import {withBench} from './helpers.js';

describe('metadata instructions', () => {
  test('every metadata instruction lands in the config with BuildKit history and no layer', () =>
    withBench(async bench => {
      await bench.write('Dockerfile', [
        'FROM base:latest',
        'MAINTAINER Jane <jane@example.com>',
        'ARG VERSION=1.0',
        'ENV APP_HOME=/srv/app MODE=prod',
        'ENV LEGACY value with spaces',
        'LABEL org.example.version=$VERSION "quoted key"="a b"',
        'EXPOSE 8080 53/udp 9000-9001',
        'VOLUME ["/data", "/logs"]',
        'USER app:staff',
        'SHELL ["/bin/sh", "-ec"]',
        'HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD wget -q -O- localhost:8080 || exit 1',
        'STOPSIGNAL SIGQUIT',
        'ONBUILD COPY . /onbuild',
        'CMD echo $MODE',
        '',
      ].join('\n'));
      const {result} = await bench.build();
      const config = await bench.config(result.imageId);
      const c = config.config!;
      assert.equal(config.author, 'Jane <jane@example.com>');
      assert.deepEqual(c.Env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'APP_HOME=/srv/app', 'MODE=prod', 'LEGACY=value with spaces']);
      assert.deepEqual(c.Labels, {'org.example.version': '1.0', 'quoted key': 'a b'});
      assert.deepEqual(c.ExposedPorts, {'8080/tcp': {}, '53/udp': {}, '9000/tcp': {}, '9001/tcp': {}});
      assert.deepEqual(c.Volumes, {'/data': {}, '/logs': {}});
      assert.equal(c.User, 'app:staff');
      assert.deepEqual(c.Shell, ['/bin/sh', '-ec']);
      assert.deepEqual(c.Healthcheck, {Test: ['CMD-SHELL', 'wget -q -O- localhost:8080 || exit 1'], Interval: 30e9, Timeout: 5e9, Retries: 3});
      assert.equal(c.StopSignal, 'SIGQUIT');
      assert.deepEqual(c.OnBuild, ['COPY . /onbuild']);
      assert.deepEqual(c.Cmd, ['/bin/sh', '-ec', 'echo $MODE']);
      // ARG values are not stored in the config.
      assert.ok(!c.Env!.some(entry => entry.startsWith('VERSION=')));
      const history = config.history!.slice(1).map(entry => [entry.created_by, entry.empty_layer === true, entry.comment]);
      assert.deepEqual(history, [
        ['MAINTAINER Jane <jane@example.com>', true, 'buildkit.dockerfile.v0'],
        ['ARG VERSION=1.0', true, 'buildkit.dockerfile.v0'],
        ['ENV APP_HOME=/srv/app MODE=prod', true, 'buildkit.dockerfile.v0'],
        ['ENV LEGACY=value with spaces', true, 'buildkit.dockerfile.v0'],
        ['LABEL org.example.version=1.0 quoted key=a b', true, 'buildkit.dockerfile.v0'],
        ['EXPOSE [8080/tcp 53/udp 9000/tcp 9001/tcp]', true, 'buildkit.dockerfile.v0'],
        ['VOLUME [/data /logs]', true, 'buildkit.dockerfile.v0'],
        ['USER app:staff', true, 'buildkit.dockerfile.v0'],
        ['SHELL [/bin/sh -ec]', true, 'buildkit.dockerfile.v0'],
        ['HEALTHCHECK {Test:[CMD-SHELL wget -q -O- localhost:8080 || exit 1] Interval:30s Timeout:5s StartPeriod:0s StartInterval:0s Retries:3}', true, 'buildkit.dockerfile.v0'],
        ['STOPSIGNAL SIGQUIT', true, 'buildkit.dockerfile.v0'],
        ['CMD ["/bin/sh" "-ec" "echo $MODE"]', true, 'buildkit.dockerfile.v0'],
      ]);
      // Metadata only: the image keeps exactly the base layer.
      assert.equal(config.rootfs.diff_ids.length, 1);
    }));

  test('ENTRYPOINT resets an inherited CMD but keeps one set in the same stage', () =>
    withBench(async bench => {
      await bench.write('Dockerfile', 'FROM base:latest\nENTRYPOINT ["/bin/echo"]\n');
      const first = await bench.build();
      const inherited = (await bench.config(first.result.imageId)).config!;
      assert.deepEqual(inherited.Entrypoint, ['/bin/echo']);
      assert.equal(inherited.Cmd, undefined, 'the base image CMD ["sh"] is dropped');
      await bench.write('Dockerfile', 'FROM base:latest\nCMD ["hello"]\nENTRYPOINT /bin/echo\n');
      const second = await bench.build();
      const kept = (await bench.config(second.result.imageId)).config!;
      assert.deepEqual(kept.Cmd, ['hello']);
      assert.deepEqual(kept.Entrypoint, ['/bin/sh', '-c', '/bin/echo']);
    }));

  test('FROM scratch starts from an empty config with PATH and workdir /', () =>
    withBench(async bench => {
      await bench.write('hello.txt', 'hello\n');
      await bench.write('Dockerfile', 'FROM scratch\nCOPY hello.txt /\nWORKDIR /\n');
      const {result} = await bench.build({tags: ['hello:1']});
      const config = await bench.config(result.imageId);
      assert.deepEqual(config.config!.Env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
      assert.equal(config.config!.WorkingDir, '/');
      assert.equal(config.os, 'linux');
      assert.equal(config.rootfs.diff_ids.length, 1);
      assert.deepEqual(config.history!.map(entry => [entry.created_by, entry.empty_layer ?? false]), [
        ['COPY hello.txt / # buildkit', false],
        ['WORKDIR /', true],
      ]);
      assert.deepEqual(result.tags, ['hello:1']);
      assert.equal((await bench.store.resolveImage('hello:1')).id, result.imageId);
    }));

  test('WORKDIR is created relative to the previous one, owned by the USER, and recorded with a layer', () =>
    withBench(async bench => {
      await bench.write('Dockerfile', 'FROM base:latest\nUSER app\nWORKDIR /srv\nWORKDIR app/data\n');
      const {result} = await bench.build();
      const config = await bench.config(result.imageId);
      assert.equal(config.config!.WorkingDir, '/srv/app/data');
      const rootfs = await bench.rootfs(result.imageId);
      const {lstat} = await import('node:fs/promises');
      const stats = await lstat(`${rootfs}/srv/app/data`);
      assert.ok(stats.isDirectory());
      assert.equal(stats.mode & 0o7777, 0o755);
      assert.equal(stats.uid, 1000);
      assert.equal(stats.gid, 1000);
      assert.deepEqual(config.history!.slice(-2).map(entry => [entry.created_by, entry.empty_layer ?? false]), [
        ['WORKDIR /srv', false],
        ['WORKDIR /srv/app/data', false],
      ]);
    }));

  test('build labels from the command line are added to the image', () =>
    withBench(async bench => {
      await bench.write('Dockerfile', 'FROM base:latest\nLABEL a=1\n');
      const {result} = await bench.build({labels: {b: '2', a: 'cli'}});
      assert.deepEqual((await bench.config(result.imageId)).config!.Labels, {a: 'cli', b: '2'});
    }));

  test('global ARGs feed FROM, and a stage sees them only after re-declaring', () =>
    withBench(async bench => {
      await bench.write('Dockerfile', [
        'ARG BASE=base:latest',
        'ARG FLAVOR=plain',
        'FROM $BASE',
        'ENV BEFORE=${FLAVOR:-unset}',
        'ARG FLAVOR',
        'ENV AFTER=$FLAVOR',
        '',
      ].join('\n'));
      const {result} = await bench.build({buildArgs: {FLAVOR: 'spicy'}});
      const env = (await bench.config(result.imageId)).config!.Env!;
      assert.ok(env.includes('BEFORE=unset'));
      assert.ok(env.includes('AFTER=spicy'));
    }));

  test('a stage built FROM an earlier stage inherits its config but not its ONBUILD triggers', () =>
    withBench(async bench => {
      await bench.write('Dockerfile', 'FROM base:latest AS one\nENV ONE=1\nONBUILD ENV X=1\nFROM one\nENV TWO=2\n');
      const {result} = await bench.build();
      const config = (await bench.config(result.imageId)).config!;
      assert.ok(config.Env!.includes('ONE=1'));
      assert.ok(config.Env!.includes('TWO=2'));
      assert.equal(config.OnBuild, undefined);
      assert.ok(!config.Env!.includes('X=1'), 'triggers of a stage do not run for FROM <stage>');
    }));

  test('ONBUILD triggers of a base image run right after FROM', () =>
    withBench(async bench => {
      await bench.write('marker.txt', 'from the child context\n');
      await bench.write('Dockerfile', 'FROM base:latest\nONBUILD COPY marker.txt /marker.txt\nONBUILD ENV TRIGGERED=yes\n');
      await bench.build({tags: ['parent:latest']});
      await bench.write('Dockerfile', 'FROM parent:latest\nENV AFTER=1\n');
      const {result, events} = await bench.build();
      const config = (await bench.config(result.imageId)).config!;
      assert.ok(config.Env!.includes('TRIGGERED=yes'));
      assert.equal(config.OnBuild, undefined, 'triggers are not inherited by grandchildren');
      const rootfs = await bench.rootfs(result.imageId);
      const {readFile} = await import('node:fs/promises');
      assert.equal(await readFile(`${rootfs}/marker.txt`, 'utf8'), 'from the child context\n');
      assert.ok(events.some(event => event.type === 'step-started' && event.instruction.startsWith('ONBUILD COPY')));
    }));
});
