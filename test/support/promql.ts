/** Words that look like identifiers in PromQL but name no metric. */
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

/**
 * The metric names a PromQL expression reads: identifiers used bare or before `{` or `[`. Strings, label
 * matchers, ranges, label lists (`by (...)`, `on (...)`...), Grafana variables and numbers are dropped first;
 * an identifier before `(` is a function or an aggregation.
 */
export function metricNames(expr: string): string[] {
  const text = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\$\{?\w+\}?/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)\s*/gi, '');
  const names = new Set<string>();
  for (const [, number, identifier, call] of text.matchAll(/(\d[\w.]*)|([A-Za-z_:][\w:]*)\s*(\()?/g)) {
    if (number || call || KEYWORDS.has(identifier.toLowerCase())) continue;
    names.add(identifier);
  }
  return [...names];
}

/** The selector of a Grafana `label_values(selector, label)` variable query, as PromQL. */
export function labelValuesSelector(query: string): string {
  const match = /^\s*label_values\((.*),\s*\w+\s*\)\s*$/s.exec(query);
  if (!match) throw new Error(`not a label_values() query: ${query}`);
  return match[1];
}

/**
 * Every name a Prometheus text exposition serves: sample names, and the families of HELP and TYPE lines
 * (a family with no samples yet still counts), with `_bucket`, `_sum` and `_count` for histograms and summaries.
 */
export function exportedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const line of exposition.split('\n')) {
    const type = /^# TYPE (\S+) (\w+)/.exec(line);
    if (type) {
      names.add(type[1]);
      if (type[2] === 'histogram') ['_bucket', '_sum', '_count'].forEach((suffix) => names.add(type[1] + suffix));
      if (type[2] === 'summary') ['_sum', '_count'].forEach((suffix) => names.add(type[1] + suffix));
      continue;
    }
    const help = /^# HELP (\S+)/.exec(line);
    if (help) names.add(help[1]);
    else if (line && !line.startsWith('#')) names.add(/^[^{\s]+/.exec(line)![0]);
  }
  return names;
}
