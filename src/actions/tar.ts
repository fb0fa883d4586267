import { gzipSync } from 'node:zlib';

/** One regular file for a tar archive. `name` is relative, at most 100 bytes (ward's names are short). */
export interface TarEntry {
  name: string;
  data: Buffer;
  /** Epoch ms. */
  mtimeMs: number;
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

function header(entry: TarEntry): Buffer {
  const name = Buffer.from(entry.name, 'utf8');
  if (name.length > 100 || entry.name.startsWith('/') || entry.name.split('/').includes('..')) {
    throw new Error(`tar: unsafe or too long entry name ${JSON.stringify(entry.name)}`);
  }
  const h = Buffer.alloc(512);
  name.copy(h, 0);
  h.write(octal(0o644, 8), 100, 'ascii'); // mode
  h.write(octal(0, 8), 108, 'ascii'); // uid
  h.write(octal(0, 8), 116, 'ascii'); // gid
  h.write(octal(entry.data.length, 12), 124, 'ascii'); // size
  h.write(octal(Math.floor(entry.mtimeMs / 1000), 12), 136, 'ascii'); // mtime
  h.write('        ', 148, 'ascii'); // checksum placeholder: spaces while summing
  h.write('0', 156, 'ascii'); // regular file
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

/** A POSIX ustar archive of regular files, gzip-compressed: readable by `tar xzf` everywhere. */
export function tarGz(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(header(e), e.data);
    const pad = (512 - (e.data.length % 512)) % 512;
    if (pad > 0) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(1024)); // two zero blocks end the archive
  return gzipSync(Buffer.concat(parts));
}
