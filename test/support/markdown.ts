import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');

export function readDoc(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}

/** The text with fenced code blocks blanked out, so `# comments` and `[x](y)` in code are not read as Markdown. */
export function withoutCode(markdown: string): string {
  return markdown.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, '').replace(/`[^`\n]*`/g, (span) => span.replace(/[[\]()]/g, ' '));
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

export function anchors(markdown: string): Set<string> {
  return new Set([...withoutCode(markdown).matchAll(/^#{1,6}\s+(.+)$/gm)].map((match) => slug(match[1])));
}

/** Targets of inline links `[text](target)` outside code. */
export function linkTargets(markdown: string): string[] {
  return [...withoutCode(markdown).matchAll(/\[[^\]]*\]\(([^)\s]+)\)/g)].map((match) => match[1]);
}

/** The body of the section under `## title`, up to the next heading of the same or a higher level. */
export function section(markdown: string, title: string): string {
  const start = markdown.search(new RegExp(`^## ${title}$`, 'm'));
  if (start < 0) throw new Error(`no "## ${title}" section`);
  const rest = markdown.slice(start).split('\n').slice(1).join('\n');
  const end = rest.search(/^#{1,2} /m);
  return end < 0 ? rest : rest.slice(0, end);
}

/** Table rows as arrays of trimmed cells; the header and separator rows are left out. */
export function tableRows(markdown: string): string[][] {
  const rows = markdown
    .split('\n')
    .filter((line) => line.startsWith('|'))
    .map((line) =>
      line
        .replace(/\\\|/g, '\u0000')
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.replace(/\u0000/g, '|').trim()),
    );
  const separator = (cells: string[] | undefined) => cells !== undefined && cells.every((cell) => /^:?-+:?$/.test(cell));
  return rows.filter((cells, i) => !separator(cells) && !separator(rows[i + 1]));
}

/** Every `code span` in a piece of text. */
export function codeSpans(text: string): string[] {
  return [...text.matchAll(/`([^`]+)`/g)].map((match) => match[1]);
}

export interface DocumentedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: unknown;
  /** The JSON answer the document shows right after the command. */
  shown: unknown;
}

/** Each `curl` in a ```bash block that is followed by a ```json block: the request and the answer shown. */
export function documentedRequests(markdown: string): DocumentedRequest[] {
  const blocks = [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((match) => ({ lang: match[1], text: match[2] }));
  const requests: DocumentedRequest[] = [];
  blocks.forEach((block, i) => {
    const next = blocks[i + 1];
    if (block.lang !== 'bash' || next?.lang !== 'json') return;
    // The curl command runs to the end of the block: its -d '...' body may span lines.
    const start = block.text.search(/^curl /m);
    if (start < 0) return;
    const curl = block.text.slice(start).replace(/\\\n\s*/g, ' ');
    const url = /https?:\/\/localhost:8000(\/[^\s'"]*)/.exec(curl);
    if (!url) throw new Error(`no localhost:8000 URL in: ${curl}`);
    const data = /-d '([^']*)'/.exec(curl);
    requests.push({
      method: /-X (\w+)/.exec(curl)?.[1] ?? 'GET',
      path: url[1],
      headers: Object.fromEntries(
        [...curl.matchAll(/-H "([^:"]+):\s*([^"]*)"/g)].map((match) => [match[1].toLowerCase(), match[2]]),
      ),
      body: data ? JSON.parse(data[1]) : undefined,
      shown: JSON.parse(next.text),
    });
  });
  return requests;
}
