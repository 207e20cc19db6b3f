import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/launch/package-root.ts';

/**
 * The first fenced code block in `lang` under the README heading `heading`
 * (tests run the README's examples as written).
 */
export function readmeBlock(heading: string, lang: string): string {
  const text = readFileSync(join(PACKAGE_ROOT, 'README.md'), 'utf8');
  const at = text.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`README has no heading "${heading}"`);
  const m = new RegExp('```' + lang + '\\n([\\s\\S]*?)\\n```').exec(text.slice(at));
  if (!m) throw new Error(`README "${heading}" has no \`\`\`${lang} block`);
  return `${m[1]!}\n`;
}
