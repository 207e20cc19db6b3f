import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * A checker for `Authorization: Bearer <secret>`, compared in constant time
 * (DESIGN §5.2). Both sides are hashed first so lengths never leak either.
 */
export function bearerChecker(secret: string): (header: string | undefined) => boolean {
  const expected = createHash('sha256').update(secret).digest();
  return (header) => {
    if (typeof header !== 'string' || !header.startsWith('Bearer ')) return false;
    const given = createHash('sha256').update(header.slice(7)).digest();
    return timingSafeEqual(given, expected);
  };
}

export const bearer = (secret: string) => `Bearer ${secret}`;
