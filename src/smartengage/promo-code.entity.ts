import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

@Entity({ name: 'promo_codes' })
export class PromoCodeEntity {
  @PrimaryColumn('text')
  code: string;

  /** Whole percent off, 1-90; the only discount a message may mention. */
  @Column({ name: 'discount_percent', type: 'smallint' })
  discountPercent: number;

  @Column({ type: 'text', default: '' })
  description: string;

  @Column({ type: 'boolean', default: true })
  active: boolean;

  @Column({ name: 'valid_until', type: 'timestamptz', nullable: true })
  validUntil: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
