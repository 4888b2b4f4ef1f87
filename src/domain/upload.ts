// An image a caller uploaded: content-addressed (its sha256), owned by whoever uploaded it (two owners uploading
// the same bytes each own it), kept in the job store and served at signed, expiring URLs.

/** The formats an upload may be, by what its bytes are (never by its name or the type its sender claimed). */
export const UPLOAD_CONTENT_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/avif', 'image/heic'] as const;
export type UploadContentType = (typeof UPLOAD_CONTENT_TYPES)[number];

/** What the store keeps of an upload, besides its bytes. */
export interface StoredUpload {
  owner: string;
  /** Lowercase hex sha256 of the bytes. */
  sha256: string;
  contentType: UploadContentType;
  byteSize: number;
  /** Pixels; null when the decoder could read the format but not the size (HEIC without its codec). */
  width: number | null;
  height: number | null;
  createdAt: Date;
}

/** An upload as its owner is handed it: where the upstream (and anyone holding the link) can read it, until when. */
export interface UploadedImage {
  url: string;
  expiresAt: Date;
  contentType: UploadContentType;
  byteSize: number;
  width: number | null;
  height: number | null;
}
