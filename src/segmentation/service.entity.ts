import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** A bookable home service (cleaning, plumbing, ...). */
@Entity({ name: 'services' })
export class ServiceEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  /** Stable slug, e.g. `home_cleaning`. */
  @Column({ type: 'text', unique: true })
  code: string;

  @Column({ type: 'text' })
  name: string;

  /** The name customers read in messages. */
  @Column({ name: 'name_bn', type: 'text' })
  nameBn: string;

  /** Shown at the end of email subjects. */
  @Column({ type: 'text' })
  emoji: string;

  @Column({ type: 'boolean', default: true })
  active: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
