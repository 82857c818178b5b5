import { Column, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import { Channel, GeneratorKind, Tone } from '../messaging/message.types';

/** One arm that gets a message; what it names overrides the send's setting, what it leaves out comes from the send. */
export interface VariantDefinition {
  name: string;
  weight: number;
  generator?: GeneratorKind;
  /** A promo code; null sends the variant without one even when the send has one. */
  promoCode?: string | null;
  tone?: Tone;
}

@Entity({ name: 'experiments' })
export class ExperimentEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  /** A slug; it seeds the assignment hash, so it never changes. */
  @Column({ type: 'text', unique: true })
  key: string;

  @Column({ type: 'text', nullable: true })
  description: string | null;

  /** The first holdoutPercent% of buckets get no message. */
  @Column({ name: 'holdout_percent', type: 'integer' })
  holdoutPercent: number;

  /** In bucket order after the holdout. */
  @Column({ type: 'jsonb' })
  variants: VariantDefinition[];

  /** Bookings within this many days of an assignment count as conversions. */
  @Column({ name: 'attribution_days', type: 'integer', default: 7 })
  attributionDays: number;

  /** When set, only sends on this channel may name the experiment. */
  @Column({ type: 'text', nullable: true })
  channel: Channel | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;

  /** Once set, no new customer is assigned; existing assignments still hold. */
  @Column({ name: 'stopped_at', type: 'timestamptz', nullable: true })
  stoppedAt: Date | null;
}

@Entity({ name: 'experiment_assignments' })
export class ExperimentAssignmentEntity {
  @PrimaryColumn({ name: 'experiment_id', type: 'uuid' })
  experimentId: string;

  @PrimaryColumn({ name: 'customer_id', type: 'uuid' })
  customerId: string;

  /** `holdout` or a variant's name. */
  @Column({ type: 'text' })
  arm: string;

  @Column({ type: 'integer' })
  bucket: number;

  /** When the customer would first have been messaged under the experiment: their attribution window starts here. */
  @Column({ name: 'assigned_at', type: 'timestamptz' })
  assignedAt: Date;
}
