import { register } from 'prom-client';

/**
 * prom-client's default metrics include three gauges named `*_total`, which Prometheus reserves for
 * counters (`promtool check metrics` rejects them). Their values are the sums of the
 * `nodejs_active_{handles,requests,resources}{type}` gauges that stay, so nothing is lost.
 */
const MISNAMED_DEFAULT_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export function dropMisnamedDefaultMetrics(): void {
  for (const name of MISNAMED_DEFAULT_METRICS) register.removeSingleMetric(name);
}
