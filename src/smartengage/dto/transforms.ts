/** Upper-cases strings and leaves everything else for the validators to reject. */
export const upperCase = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim().toUpperCase() : value);

/**
 * Any 8-4-4-4-12 hex id, as Postgres' uuid type accepts: the demo's plumbing service id
 * (c3d4e5f6-a7b8-4c9d-0e1f-…) has no RFC 4122 variant bits, so IsUUID() would reject it.
 */
export const UUID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
