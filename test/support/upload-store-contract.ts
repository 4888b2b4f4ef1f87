import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StoredUpload } from '../../src/domain/upload.js';
import type { JobStore } from '../../src/services/store/job-store.js';

// The uploads every JobStore keeps (migration 5), whatever database is underneath: bytes once per sha256, one
// record per owner, and one signing secret for every instance on the store.

const bytesOf = (text: string) => Buffer.from(text, 'utf8');

function uploadOf(owner: string, bytes: Buffer, createdAt = new Date(Date.UTC(2025, 0, 1))): StoredUpload {
  return {
    owner,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    contentType: 'image/png',
    byteSize: bytes.length,
    width: 3,
    height: 2,
    createdAt,
  };
}

export function describeUploadStoreContract(name: string, makeStore: () => Promise<JobStore>): void {
  describe(`UploadStore contract: ${name}`, () => {
    let store: JobStore;
    beforeEach(async () => {
      store = await makeStore();
    });
    afterEach(async () => {
      await store.close();
    });

    it('keeps an upload with its bytes, byte for byte, as its owner’s only', async () => {
      const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff, 0x00, 0x10]);
      const upload = uploadOf('alice', bytes);
      await store.uploads.put(upload, bytes);
      const found = await store.uploads.get('alice', upload.sha256);
      expect(found?.upload).toEqual(upload);
      expect(Buffer.compare(found!.bytes, bytes)).toBe(0);
      expect(await store.uploads.get('bob', upload.sha256)).toBeNull();
      expect(await store.uploads.get('alice', '0'.repeat(64))).toBeNull();
    });

    it('lets two owners own the same bytes, each with their own record; a repeat upload changes nothing', async () => {
      const bytes = bytesOf('same bytes');
      const alice = uploadOf('alice', bytes, new Date(Date.UTC(2025, 0, 1)));
      const bob = { ...uploadOf('bob', bytes, new Date(Date.UTC(2025, 0, 2))), width: null, height: null };
      await store.uploads.put(alice, bytes);
      await store.uploads.put(bob, bytes);
      await store.uploads.put({ ...alice, createdAt: new Date(Date.UTC(2026, 0, 1)) }, bytes);
      expect((await store.uploads.get('alice', alice.sha256))?.upload).toEqual(alice);
      expect((await store.uploads.get('bob', bob.sha256))?.upload).toEqual(bob);
    });

    it('makes a secret once: later calls, with another generator, get the first', async () => {
      const first = await store.uploads.secret('signing', () => 'first-secret');
      const again = await store.uploads.secret('signing', () => 'second-secret');
      const other = await store.uploads.secret('other', () => 'other-secret');
      expect([first, again, other]).toEqual(['first-secret', 'first-secret', 'other-secret']);
    });

    it('keeps uploads through another migrate', async () => {
      const bytes = bytesOf('kept');
      const upload = uploadOf('alice', bytes);
      await store.uploads.put(upload, bytes);
      await store.migrate();
      expect((await store.uploads.get('alice', upload.sha256))?.upload).toEqual(upload);
    });
  });
}
