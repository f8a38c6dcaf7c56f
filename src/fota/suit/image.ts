/**
 * Device-side checks of a payload against a verified manifest: the installed image must have
 * exactly the size and SHA-256 the signed manifest names (RFC 9124 REQ.SEC.AUTHENTIC,
 * suit-condition-image-match), and a delta's base must be the image the device runs now. The
 * streaming form hashes chunk by chunk, so a device never holds the image in memory.
 */
import { createHash, type Hash } from 'node:crypto';
import { InvalidArgumentError } from '../../errors.js';
import { assertBytes } from '../../util/assert.js';
import { assertSupportedDigest, digestMatches, sha256, type SuitDigest } from './digest.js';
import { SuitDigestMismatchError, SuitMalformedError, SuitSizeMismatchError, SuitWrongBaseError } from './errors.js';
import type { VerifiedManifest } from './verify.js';

function expectedImage(manifest: VerifiedManifest): { digest: SuitDigest; size: number | undefined } {
  if (typeof manifest !== 'object' || manifest === null || typeof manifest.image !== 'object') throw new InvalidArgumentError('manifest', 'expected a VerifiedManifest');
  const { digest, size } = manifest.image;
  if (digest === undefined) throw new SuitMalformedError('the manifest names no image digest');
  assertSupportedDigest(digest, 'image digest');
  return { digest, size };
}

/** Throws ERR_SUIT_SIZE_MISMATCH or ERR_SUIT_DIGEST_MISMATCH unless `image` is the manifest's image. */
export function checkImage(manifest: VerifiedManifest, image: Uint8Array): void {
  assertBytes(image, 'image');
  const { digest, size } = expectedImage(manifest);
  if (size !== undefined && image.length !== size) throw new SuitSizeMismatchError(size, image.length);
  if (!digestMatches(digest, sha256(image))) throw new SuitDigestMismatchError();
}

/** Throws ERR_SUIT_WRONG_BASE unless `installed` is the base image a delta manifest names. */
export function checkBaseImage(manifest: VerifiedManifest, installed: Uint8Array): void {
  assertBytes(installed, 'installed');
  if (manifest.delta === undefined) throw new InvalidArgumentError('manifest', 'not a delta manifest');
  const { baseDigest, baseSize } = manifest.delta;
  if ((baseSize !== undefined && installed.length !== baseSize) || !digestMatches(baseDigest, sha256(installed))) throw new SuitWrongBaseError();
}

export interface ImageVerifier {
  /** Feeds the next chunk; fails early with ERR_SUIT_SIZE_MISMATCH once the image is too long. */
  update(chunk: Uint8Array): void;
  /** Bytes seen so far. */
  readonly received: number;
  /** Checks size and digest; the verifier is spent afterwards. */
  finish(): void;
}

/** Streaming form of checkImage, for images written straight into a slot. */
export function createImageVerifier(manifest: VerifiedManifest): ImageVerifier {
  const { digest, size } = expectedImage(manifest);
  let hash: Hash | undefined = createHash('sha256');
  let received = 0;
  return {
    update(chunk: Uint8Array): void {
      assertBytes(chunk, 'chunk');
      if (hash === undefined) throw new InvalidArgumentError('chunk', 'the verifier has finished');
      received += chunk.length;
      // An oversize image is refused as soon as it shows, not after it has filled the slot.
      if (size !== undefined && received > size) throw new SuitSizeMismatchError(size, received);
      hash.update(chunk);
    },
    get received(): number {
      return received;
    },
    finish(): void {
      if (hash === undefined) throw new InvalidArgumentError('verifier', 'finish() was called already');
      const actual = new Uint8Array(hash.digest());
      hash = undefined;
      if (size !== undefined && received !== size) throw new SuitSizeMismatchError(size, received);
      if (!digestMatches(digest, actual)) throw new SuitDigestMismatchError();
    },
  };
}
