// Plain-text tables for CLI output. Pure: widths come from the unstyled text,
// so ANSI colours never break the alignment; colour is applied only when the
// caller says the output is a terminal.

export type Style = 'bold' | 'dim' | 'red' | 'green' | 'yellow' | 'cyan';

export interface Cell {
  text: string;
  style?: Style;
}

export interface Column {
  header: string;
  align?: 'left' | 'right';
}

const ANSI: Record<Style, [string, string]> = {
  bold: ['\u001b[1m', '\u001b[22m'],
  dim: ['\u001b[2m', '\u001b[22m'],
  red: ['\u001b[31m', '\u001b[39m'],
  green: ['\u001b[32m', '\u001b[39m'],
  yellow: ['\u001b[33m', '\u001b[39m'],
  cyan: ['\u001b[36m', '\u001b[39m'],
};

export function paint(text: string, style: Style | undefined, color: boolean): string {
  if (!color || !style) return text;
  const [on, off] = ANSI[style];
  return `${on}${text}${off}`;
}

/** Columns separated by two spaces, no trailing spaces; one string ending in a newline. */
export function renderTable(columns: Column[], rows: Array<Array<Cell | string>>, opts: { color?: boolean } = {}): string {
  const cells = rows.map((r) => columns.map((_, i) => {
    const c = r[i];
    return typeof c === 'string' ? { text: c } : c ?? { text: '' };
  }));
  const widths = columns.map((col, i) => Math.max(col.header.length, ...cells.map((r) => r[i]!.text.length)));
  const line = (row: Cell[]) =>
    row.map((c, i) => {
      const pad = ' '.repeat(widths[i]! - c.text.length);
      const text = paint(c.text, c.style, opts.color ?? false);
      return columns[i]!.align === 'right' ? pad + text : i === row.length - 1 ? text : text + pad;
    }).join('  ').trimEnd();
  const header = line(columns.map((c) => ({ text: c.header, style: 'bold' as const })));
  return `${[header, ...cells.map(line)].join('\n')}\n`;
}

/** Colours only on a terminal and only when NO_COLOR is unset (https://no-color.org). */
export function useColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(stream.isTTY) && (env.NO_COLOR === undefined || env.NO_COLOR === '');
}
