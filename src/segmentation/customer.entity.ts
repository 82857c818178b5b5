import { Column, CreateDateColumn, Entity, JoinColumn, OneToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { UserEntity } from './user.entity';

@Entity({ name: 'customers' })
export class CustomerEntity {
  /** Same id as the customer's row in `users`. */
  @PrimaryColumn('uuid')
  id: string;

  @OneToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'id' })
  user: UserEntity;

  /** Latest non-cancelled booking; maintained by a trigger on `bookings`. */
  @Column({ name: 'last_booking_at', type: 'timestamptz', nullable: true })
  lastBookingAt: Date | null;

  /** Service of that latest booking; maintained by the same trigger. */
  @Column({ name: 'last_booking_service_id', type: 'uuid', nullable: true })
  lastBookingServiceId: string | null;

  /** Count of non-cancelled bookings; maintained by the same trigger. */
  @Column({ name: 'total_bookings', type: 'int', default: 0 })
  totalBookings: number;

  /** Set once the customer unsubscribes; nothing is ever sent after it. */
  @Column({ name: 'opted_out_at', type: 'timestamptz', nullable: true })
  optedOutAt: Date | null;

  @Column({ name: 'opt_out_source', type: 'text', nullable: true })
  optOutSource: string | null;

  /** Latest scheduled_for of a pending or confirmed booking; a future value means "booked already". */
  @Column({ name: 'upcoming_booking_at', type: 'timestamptz', nullable: true })
  upcomingBookingAt: Date | null;

  /** Mirrors users.email being present; kept by triggers so segmentation needs no join. */
  @Column({ name: 'has_email', type: 'boolean', default: false, insert: false })
  hasEmail: boolean;

  /** When the latest message was claimed for this customer (set by claim_ai_message). */
  @Column({ name: 'last_message_at', type: 'timestamptz', nullable: true })
  lastMessageAt: Date | null;

  @Column({ type: 'text', default: 'Asia/Dhaka' })
  timezone: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
