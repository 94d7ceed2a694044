// client-go's leader-election timing (k8s.io/client-go/tools/leaderelection, the defaults GIE's
// EPP passes): the CLI's flag defaults and the elector's. A module of its own, free of the
// Kubernetes client, so the CLI can show these defaults without loading @kubernetes/client-node
// (its generated models alone are ~70 MiB of resident memory).
export const DEFAULT_LEASE_DURATION_MS = 15_000;
export const DEFAULT_RENEW_DEADLINE_MS = 10_000;
export const DEFAULT_RETRY_PERIOD_MS = 2_000;
