import { MAX_SEQ } from '../../src/core/bounds.ts';
import { COMMIT_HEADER } from '../../src/core/protocol.ts';

/**
 * Headers for a test that inspects one node's copy directly. A node serves
 * committed reads only, as of the commit point it knows (which lags the
 * router's by a batch or a poll); raised to the maximum, the read point is the
 * node's log end, so the answer is everything this copy holds — what "the
 * write is on this node" and "the copies are identical" mean. Never what a
 * client sees: the router sends no more than the commit point it counted.
 */
export const INSPECT_HEADERS: Readonly<Record<string, string>> = { [COMMIT_HEADER]: String(MAX_SEQ) };
