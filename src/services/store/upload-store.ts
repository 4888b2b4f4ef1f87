import type { StoredUpload } from '../../domain/upload.js';

// Uploaded images in the job store, so that every instance on it can serve them: the bytes once per sha256
// (upload_contents), one row per owner that uploaded them (uploads), and the secret that signs their URLs
// (gateway_secrets), made once by whichever instance asks first.

export interface UploadStore {
  /** Keeps the bytes (once per sha256) and `upload` as its owner's; the same owner uploading again is a no-op. */
  put(upload: StoredUpload, bytes: Uint8Array): Promise<void>;
  /** The owner's upload of these bytes, with them; null when that owner never uploaded them. */
  get(owner: string, sha256: string): Promise<{ upload: StoredUpload; bytes: Buffer } | null>;
  /** The secret called `name`; the first caller stores `generate()`, and every later one (any instance) gets it. */
  secret(name: string, generate: () => string): Promise<string>;
}

/** A stored row of `uploads`, in either database. */
export interface UploadRow {
  owner: string;
  sha256: string;
  content_type: string;
  byte_size: number | string;
  width: number | null;
  height: number | null;
  created_at: number | string;
  bytes: Buffer;
}

/** The columns of an `uploads` row both stores insert, in the order of uploadRowValues. */
export const UPLOAD_COLUMNS = 'owner, sha256, content_type, byte_size, width, height, created_at';
/** `upload` as the values of its `uploads` row, in UPLOAD_COLUMNS order. */
export const uploadRowValues = (upload: StoredUpload): (string | number | null)[] => [
  upload.owner,
  upload.sha256,
  upload.contentType,
  upload.byteSize,
  upload.width,
  upload.height,
  upload.createdAt.getTime(),
];

export function uploadFromRow(row: UploadRow): { upload: StoredUpload; bytes: Buffer } {
  return {
    upload: {
      owner: row.owner,
      sha256: row.sha256,
      contentType: row.content_type as StoredUpload['contentType'],
      byteSize: Number(row.byte_size),
      width: row.width,
      height: row.height,
      createdAt: new Date(Number(row.created_at)),
    },
    bytes: row.bytes,
  };
}

/** Migration 5 of both databases, but for the bytes column's type (BLOB, bytea) and ids' collation. */
export const uploadTablesSql = (bytesType: string, textId: string): string => `
  CREATE TABLE upload_contents (
    sha256 ${textId} PRIMARY KEY,
    bytes  ${bytesType} NOT NULL
  );
  CREATE TABLE uploads (
    owner        text NOT NULL,
    sha256       ${textId} NOT NULL REFERENCES upload_contents (sha256),
    content_type text NOT NULL,
    byte_size    bigint NOT NULL,
    width        integer,
    height       integer,
    created_at   bigint NOT NULL,
    PRIMARY KEY (owner, sha256)
  );
  CREATE TABLE gateway_secrets (
    name       text PRIMARY KEY,
    value      text NOT NULL,
    created_at bigint NOT NULL
  );
`;
