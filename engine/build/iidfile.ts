/** `--iidfile`: the image ID written to a file, as `docker build --iidfile` writes it (no newline). */
import {rename, writeFile} from 'node:fs/promises';
import {dirname, join, basename, resolve} from 'node:path';

export async function writeImageIdFile(path: string, imageId: string): Promise<void> {
  const target = resolve(path);
  const temporary = join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
  await writeFile(temporary, imageId);
  await rename(temporary, target);
}
