import { DataSource } from 'typeorm';
import { EligibilityCriteria, EligibilityCursor, EligibleCustomerRepository } from '../src/segmentation/eligible-customer.repository';

export interface SegmentationFigures {
  eligible: number;
  countMs: number[];
  pageMs: number[];
  pageRows: number;
  planLines: string[];
}

interface CapturedQuery {
  sql: string;
  params: unknown[];
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
export const stats = (values: number[]) => ({
  median: median(values),
  min: Math.min(...values),
  max: Math.max(...values),
  p95: [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * 0.95))],
});

/** The SQL and parameters EligibleCustomerRepository sends for one call, so EXPLAIN sees exactly that query. */
async function capture(call: (repo: EligibleCustomerRepository) => Promise<unknown>): Promise<CapturedQuery> {
  let captured: CapturedQuery | null = null;
  const recorder = {
    query: async (sql: string, params: unknown[]) => {
      captured = { sql, params };
      return [{ count: 0 }];
    },
  } as unknown as DataSource;
  await call(new EligibleCustomerRepository(recorder));
  if (!captured) throw new Error('EligibleCustomerRepository sent no query');
  return captured;
}

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Actual Total Time': number;
  'Heap Fetches'?: number;
  'Shared Hit Blocks': number;
  'Shared Read Blocks': number;
  Plans?: PlanNode[];
}

function planLines(node: PlanNode, depth = 0): string[] {
  const target = node['Index Name'] ? ` using ${node['Index Name']}` : node['Relation Name'] ? ` on ${node['Relation Name']}` : '';
  const heap = node['Heap Fetches'] !== undefined ? `, heap fetches ${node['Heap Fetches']}` : '';
  const line =
    `${'  '.repeat(depth + 2)}${node['Node Type']}${target} (rows ${node['Actual Rows']} x${node['Actual Loops']}, ` +
    `${node['Actual Total Time'].toFixed(1)} ms, buffers hit ${node['Shared Hit Blocks']} read ${node['Shared Read Blocks']}${heap})`;
  return [line, ...(node.Plans ?? []).flatMap((child) => planLines(child, depth + 1))];
}

async function explain(dataSource: DataSource, label: string, query: CapturedQuery): Promise<string[]> {
  const [row] = await dataSource.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${query.sql}`, query.params);
  const [plan] = row['QUERY PLAN'] as [{ Plan: PlanNode; 'Execution Time': number; 'Planning Time': number }];
  return [
    `  ${label}: execution ${plan['Execution Time'].toFixed(1)} ms, planning ${plan['Planning Time'].toFixed(1)} ms`,
    ...planLines(plan.Plan),
  ];
}

/**
 * Times EligibleCustomerRepository on the loaded data: countEligible `countRuns` times, then the first `pages`
 * keyset pages of `pageSize`, each timed on its own; and EXPLAINs both queries once.
 */
export async function measureSegmentation(
  dataSource: DataSource,
  criteria: EligibilityCriteria,
  options: { countRuns: number; pages: number; pageSize: number },
): Promise<SegmentationFigures> {
  const repo = new EligibleCustomerRepository(dataSource);
  const countMs: number[] = [];
  let eligible = 0;
  for (let run = 0; run < options.countRuns; run++) {
    const started = performance.now();
    eligible = await repo.countEligible(criteria);
    countMs.push(performance.now() - started);
  }

  const pageMs: number[] = [];
  let pageRows = 0;
  let cursor: EligibilityCursor | null = null;
  let secondCursor: EligibilityCursor | null = null;
  for (let page = 0; page < options.pages; page++) {
    const started = performance.now();
    const { customers, next } = await repo.page(criteria, cursor, options.pageSize);
    pageMs.push(performance.now() - started);
    pageRows += customers.length;
    if (page === 0) secondCursor = next;
    if (!next) break;
    cursor = next;
  }

  const countQuery = await capture((r) => r.countEligible(criteria));
  const pageQuery = await capture((r) => r.page(criteria, secondCursor, options.pageSize));
  const planText = [
    ...(await explain(dataSource, 'countEligible', countQuery)),
    ...(await explain(dataSource, `page (second page, size ${options.pageSize})`, pageQuery)),
  ];
  return { eligible, countMs, pageMs, pageRows, planLines: planText };
}
