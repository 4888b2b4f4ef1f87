import { createRemoteJWKSet, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';

// Bearer JWTs, verified with jose against a JWKS URL (asymmetric keys) or a shared HS256 secret.

export interface JwtOptions {
  jwksUrl?: string | undefined;
  secret?: string | undefined;
  issuer?: string | undefined;
  /** One audience or several; a token must carry one of them. */
  audience?: string[] | undefined;
  /** Allowed clock skew in seconds for exp/nbf; default 5. */
  clockToleranceSeconds?: number;
}

export type JwtOutcome =
  | { ok: true; subject: string; payload: JWTPayload }
  /** `reason` is for logs; `noSubject` marks a genuine token that names no caller. */
  | { ok: false; reason: string; noSubject?: boolean };

export class JwtVerifier {
  private readonly key: JWTVerifyGetKey | Uint8Array;
  private readonly algorithms: string[] | undefined;

  constructor(private readonly options: JwtOptions) {
    if (options.jwksUrl) {
      this.key = createRemoteJWKSet(new URL(options.jwksUrl), { timeoutDuration: 5_000, cooldownDuration: 30_000 });
      this.algorithms = undefined;
    } else if (options.secret) {
      this.key = new TextEncoder().encode(options.secret);
      this.algorithms = ['HS256'];
    } else {
      throw new Error('JwtVerifier needs a JWKS URL or a secret');
    }
  }

  async verify(token: string): Promise<JwtOutcome> {
    let payload: JWTPayload;
    try {
      const options = {
        ...(this.algorithms ? { algorithms: this.algorithms } : {}),
        ...(this.options.issuer ? { issuer: this.options.issuer } : {}),
        ...(this.options.audience?.length ? { audience: this.options.audience } : {}),
        requiredClaims: ['exp'],
        clockTolerance: this.options.clockToleranceSeconds ?? 5,
      };
      const verified =
        this.key instanceof Uint8Array
          ? await jwtVerify(token, this.key, options)
          : await jwtVerify(token, this.key, options);
      payload = verified.payload;
    } catch (error) {
      return { ok: false, reason: describe(error) };
    }
    if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 255) {
      return { ok: false, reason: 'token has no usable sub claim', noSubject: true };
    }
    return { ok: true, subject: payload.sub, payload };
  }
}

function describe(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'token expired';
  if (error instanceof errors.JWTClaimValidationFailed) return `claim ${error.claim} invalid: ${error.reason}`;
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'signature invalid';
  if (error instanceof errors.JOSEError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
