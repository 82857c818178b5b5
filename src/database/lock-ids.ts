/**
 * Every lock this service takes; one place so ids never collide. Migrations take a transaction-scoped
 * advisory lock with this id; the others are lease rows in lock_leases under it.
 */
export enum LockId {
  Migrations = 7_410_001,
  DailyCampaign = 7_410_002,
  /** The sweeper that settles interrupted messages: one replica at a time. */
  StaleMessageSweep = 7_410_003,
  /** Drafts prepared ahead of a campaign: one prepare at a time across replicas. */
  PrepareDrafts = 7_410_004,
}
