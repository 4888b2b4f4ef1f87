import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UploadImageDocument } from '../client/gql/graphql.js';
import type { Gateway } from '../src/gateway/build-gateway.js';
import { NO_PUBLIC_URL_REFUSAL } from '../src/gateway/uploads-wiring.js';
import type { UploadService } from '../src/services/uploads/upload-service.js';
import { gql, SUBMIT, startTestGateway } from './support/gateway.js';
import { startTestUpstream } from './support/test-upstream.js';
import { pngOf, postUpload, streamOversizedUpload } from './support/uploads.js';

// uploadImage over the GraphQL multipart request spec, on a real socket: checked by its bytes, limited while it
// streams, kept in the store, and served at signed, expiring links that the simulator downloads for a submit.

const MAX_UPLOAD_BYTES = 256 * 1024;
const KEYS = { alice: 'alice-key-0001', bob: 'bob-key-000002' };
const as = (name: keyof typeof KEYS) => ({ authorization: `Bearer ${KEYS[name]}` });

let gateway: Gateway;
const uploads = () => gateway.internals.services.uploads as UploadService;
const upstreamCalls = () => gateway.internals.simulator!.stats.submits + gateway.internals.simulator!.stats.reads;

beforeAll(async () => {
  gateway = await startTestGateway({
    env: {
      AUTH_MODE: 'apikey',
      GATEWAY_API_KEYS: `alice:${KEYS.alice},bob:${KEYS.bob}`,
      MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES),
      POLL_INTERVAL_MS: '40',
    },
  });
});
afterAll(() => gateway?.stop());

describe('uploadImage', () => {
  it('keeps a PNG made by sharp and serves it at its signed link, byte for byte, as image/png', async () => {
    const png = await pngOf(64, 48);
    const res = await postUpload(gateway, png, { headers: as('alice') });
    expect(res.json.errors).toBeUndefined();
    const image = res.json.data.uploadImage;
    expect(image).toMatchObject({ contentType: 'image/png', byteSize: png.length, width: 64, height: 48 });
    expect(image.url.startsWith(`${gateway.url}/uploads/`)).toBe(true);
    const expiresIn = new Date(image.expiresAt).getTime() - Date.now();
    expect(expiresIn).toBeGreaterThan(23 * 3600_000);
    expect(expiresIn).toBeLessThanOrEqual(24 * 3600_000);

    const served = await fetch(image.url);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe('image/png');
    expect(Buffer.compare(Buffer.from(await served.arrayBuffer()), png)).toBe(0);
  });

  it('judges by the bytes: a text file named .png is BAD_USER_INPUT naming file, and no upstream call', async () => {
    const before = upstreamCalls();
    const res = await postUpload(gateway, Buffer.from('just some text, not an image\n'), {
      filename: 'photo.png',
      type: 'image/png',
      headers: as('alice'),
    });
    expect(res.json.data).toBeNull();
    expect(res.json.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'file' });
    expect(res.json.errors[0].message).toMatch(/JPEG, PNG, WEBP, AVIF or HEIC/);
    const gif = await sharp({ create: { width: 2, height: 2, channels: 3, background: '#000' } })
      .gif()
      .toBuffer();
    const refusedGif = await postUpload(gateway, gif, { headers: as('alice') });
    expect(refusedGif.json.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'file' });
    expect(upstreamCalls()).toBe(before);
  });

  it('refuses a file over MAX_UPLOAD_BYTES as BAD_USER_INPUT naming file', async () => {
    const before = upstreamCalls();
    const res = await postUpload(gateway, Buffer.alloc(MAX_UPLOAD_BYTES + 1, 1), { headers: as('alice') });
    expect(res.status).toBe(413);
    expect(res.json.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'file' });
    expect(res.json.errors[0].message).toContain(String(MAX_UPLOAD_BYTES));
    expect(upstreamCalls()).toBe(before);
  });

  it('stops reading an oversized upload at the limit: the answer comes while the client is still sending', async () => {
    const total = 256 * 1024 * 1024;
    const res = await streamOversizedUpload(gateway, total);
    // Unauthenticated too, but the body limit answers first: what matters is that 256 MB were never read.
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'file' });
    expect(res.writtenWhenAnswered).toBeLessThan(total / 4);
  });

  it('needs the CSRF preflight header', async () => {
    const form = new FormData();
    form.set('operations', JSON.stringify({ query: 'mutation($file: File!) { uploadImage(file: $file) { url } }' }));
    form.set('map', JSON.stringify({ 0: ['variables.file'] }));
    form.set('0', new Blob([new Uint8Array(await pngOf(8, 8))], { type: 'image/png' }), 'a.png');
    const refused = await fetch(`${gateway.url}/graphql`, { method: 'POST', headers: as('alice'), body: form });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as any).errors[0].extensions.code).toBe('CSRF_PREVENTION');
  });

  it('keeps MAX_BODY_BYTES for JSON bodies', async () => {
    const res = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...as('alice') },
      body: JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(200 * 1024) } }),
    });
    expect(res.status).toBe(413);
  });

  it('answers 403 for a forged, altered or expired link and 404 for an unknown upload', async () => {
    const { json } = await postUpload(gateway, await pngOf(10, 10), { headers: as('alice') });
    const url = new URL(json.data.uploadImage.url);
    const status = async (href: string) => (await fetch(href)).status;

    const forged = new URL(url);
    forged.searchParams.set('sig', 'f'.repeat(64));
    expect(await status(forged.href)).toBe(403);
    const later = new URL(url);
    later.searchParams.set('expires', String(Number(url.searchParams.get('expires')) + 3600));
    expect(await status(later.href)).toBe(403);
    const unsigned = new URL(url);
    unsigned.search = '';
    expect(await status(unsigned.href)).toBe(403);

    const sha256 = url.pathname.split('/').pop()!;
    const expired = await uploads().urls.sign(gateway.url, {
      sha256,
      owner: 'alice',
      expiresAt: new Date(Date.now() - 1000),
    });
    expect(await status(expired.url)).toBe(403);
    const unknown = await uploads().urls.sign(gateway.url, {
      sha256: '0'.repeat(64),
      owner: 'alice',
      expiresAt: new Date(Date.now() + 60_000),
    });
    expect(await status(unknown.url)).toBe(404);
    expect(await status(`${gateway.url}/uploads/not-a-hash`)).toBe(404);
  });

  it('is its uploader’s: another owner is served nothing without their own upload; the same bytes, each their own', async () => {
    const png = await pngOf(12, 12, '#00ff00');
    const alice = (await postUpload(gateway, png, { headers: as('alice') })).json.data.uploadImage;
    const sha256 = new URL(alice.url).pathname.split('/').pop()!;
    // A genuine signature, but for bob, who never uploaded these bytes.
    const asBob = await uploads().urls.sign(gateway.url, {
      sha256,
      owner: 'bob',
      expiresAt: new Date(Date.now() + 60_000),
    });
    expect((await fetch(asBob.url)).status).toBe(404);
    // Changing the owner in alice's link breaks its signature.
    const swapped = new URL(alice.url);
    swapped.searchParams.set('owner', 'bob');
    expect((await fetch(swapped.href)).status).toBe(403);

    const bob = (await postUpload(gateway, png, { headers: as('bob') })).json.data.uploadImage;
    expect(new URL(bob.url).pathname).toBe(new URL(alice.url).pathname);
    expect(new URL(bob.url).searchParams.get('owner')).toBe('bob');
    for (const link of [alice.url, bob.url, asBob.url]) expect((await fetch(link)).status).toBe(200);
  });

  it('needs credentials like every operation', async () => {
    const res = await postUpload(gateway, await pngOf(8, 8));
    expect(res.status).toBe(401);
    expect(res.json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });

  it('gives a URL that a submit takes: the simulator downloads it and the job reaches DONE', async () => {
    const png = await pngOf(320, 200, '#cc3300');
    const { url } = (await postUpload(gateway, png, { headers: as('alice') })).json.data.uploadImage;
    const submitted = await gql(
      gateway,
      SUBMIT,
      { input: { input: url, options: { prompt: 'add a small duck', model: 'V1', aspectRatio: 'RATIO_16_9' } } },
      as('alice'),
    );
    expect(submitted.errors, JSON.stringify(submitted.errors)).toBeUndefined();
    const id = submitted.data!.submitAiEdit.job.id;
    const deadline = Date.now() + 15_000;
    let job: any;
    do {
      job = (
        await gql(
          gateway,
          `query($id: ID!) { aiEditJob(id: $id) { status isFinal errors { message } result { inputObject { width height mime } outputObjects { width height } } } }`,
          { id },
          as('alice'),
        )
      ).data!.aiEditJob;
      if (job.isFinal) break;
      await new Promise((r) => setTimeout(r, 40));
    } while (Date.now() < deadline);
    expect(job.errors).toEqual([]);
    expect(job.status).toBe('DONE');
    expect(job.result.inputObject).toMatchObject({ width: 320, height: 200, mime: 'image/png' });
    expect(job.result.outputObjects[0]).toMatchObject({ width: 1360, height: 768 });
  });
});

describe('uploadImage with PERSISTED_OPERATIONS=only', () => {
  let trusted: Gateway;
  beforeAll(async () => {
    trusted = await startTestGateway({ env: { PERSISTED_OPERATIONS: 'only' } });
  });
  afterAll(() => trusted?.stop());

  it('runs the client’s UploadImage document by its hash, and refuses an ad hoc document', async () => {
    const documentId = (UploadImageDocument as unknown as { __meta__: { hash: string } }).__meta__.hash;
    const png = await pngOf(16, 16);
    const byHash = await postUpload(trusted, png, { operation: { documentId, variables: { file: null } } });
    expect(byHash.json.errors).toBeUndefined();
    expect(byHash.json.data.uploadImage).toMatchObject({ contentType: 'image/png', width: 16, height: 16 });
    const adHoc = await postUpload(trusted, png);
    expect(adHoc.json.errors[0].extensions.code).toBe('PERSISTED_QUERY_ONLY');
  });
});

describe('uploadImage in front of Claid without PUBLIC_URL', () => {
  let upstream: Awaited<ReturnType<typeof startTestUpstream>>;
  let real: Gateway;
  beforeAll(async () => {
    upstream = await startTestUpstream();
    real = await startTestGateway({ env: { CLAID_API_KEY: 'a-real-looking-key', CLAID_API_URL: upstream.url } });
  });
  afterAll(async () => {
    await real?.stop();
    await upstream?.close();
  });

  it('is refused, saying why (Claid cannot download from a loopback address)', async () => {
    const res = await postUpload(real, await pngOf(8, 8));
    expect(res.json.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'file' });
    expect(res.json.errors[0].message).toBe(NO_PUBLIC_URL_REFUSAL);
  });

  it('links under PUBLIC_URL when it is set', async () => {
    const withPublic = await startTestGateway({
      env: {
        CLAID_API_KEY: 'a-real-looking-key',
        CLAID_API_URL: upstream.url,
        PUBLIC_URL: 'https://gw.example.com/edge',
      },
    });
    try {
      const res = await postUpload(withPublic, await pngOf(8, 8));
      expect(res.json.data.uploadImage.url).toMatch(/^https:\/\/gw\.example\.com\/edge\/uploads\/[0-9a-f]{64}\?owner=/);
    } finally {
      await withPublic.stop();
    }
  });
});
