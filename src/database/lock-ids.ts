/** Every Postgres advisory lock this service takes; one place so ids never collide. */
export enum LockId {
  Migrations = 7_410_001,
  DailyCampaign = 7_410_002,
  /** The sweeper that settles interrupted messages: one replica at a time. */
  StaleMessageSweep = 7_410_003,
}
