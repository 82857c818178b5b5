import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, Repository } from 'typeorm';
import { ExperimentEntity } from './experiment.entity';

export type NewExperiment = Pick<ExperimentEntity, 'key' | 'description' | 'holdoutPercent' | 'variants' | 'attributionDays' | 'channel'>;

/** Customers of one arm, from the experiment_assignment_outcomes view. */
export interface ArmCounts {
  arm: string;
  assigned: number;
  messaged: number;
  clicked: number;
  converted: number;
}

/** The experiments and their assignments; results read the outcomes view the migration defines. */
@Injectable()
export class ExperimentRepository {
  constructor(
    @InjectRepository(ExperimentEntity) private readonly experiments: Repository<ExperimentEntity>,
    @InjectDataSource() private readonly db: DataSource,
  ) {}

  /** The new row, or null when the key is taken. */
  async create(experiment: NewExperiment): Promise<ExperimentEntity | null> {
    const inserted = await this.experiments
      .createQueryBuilder()
      .insert()
      .values({ ...experiment, stoppedAt: null })
      .orIgnore()
      .returning('id')
      .execute();
    const id = (inserted.raw as Array<{ id: string }>)[0]?.id;
    return id ? this.experiments.findOneByOrFail({ id }) : null;
  }

  findByKey(key: string): Promise<ExperimentEntity | null> {
    return this.experiments.findOneBy({ key });
  }

  findAll(): Promise<ExperimentEntity[]> {
    return this.experiments.find({ order: { createdAt: 'DESC' } });
  }

  /** Stops it once; a second stop keeps the first time. Returns the row, or null when the key is unknown. */
  async stop(key: string): Promise<ExperimentEntity | null> {
    await this.db.query(`UPDATE experiments SET stopped_at = now() WHERE key = $1 AND stopped_at IS NULL`, [key]);
    return this.findByKey(key);
  }

  /**
   * The customer's arm: the one recorded earlier, else `arm` recorded now (only while the experiment runs).
   * `created` says whether this call wrote it; null when the experiment is stopped and the customer never
   * assigned.
   */
  async assign(experimentId: string, customerId: string, arm: string, bucket: number): Promise<{ arm: string; created: boolean } | null> {
    const rows: Array<{ arm: string; created: boolean }> = await this.db.query(
      `WITH inserted AS (
         INSERT INTO experiment_assignments (experiment_id, customer_id, arm, bucket)
         SELECT e.id, $2, $3, $4 FROM experiments e WHERE e.id = $1 AND e.stopped_at IS NULL
         ON CONFLICT (experiment_id, customer_id) DO NOTHING
         RETURNING arm
       )
       SELECT arm, true AS created FROM inserted
       UNION ALL
       SELECT arm, false AS created FROM experiment_assignments WHERE experiment_id = $1 AND customer_id = $2`,
      [experimentId, customerId, arm, bucket],
    );
    if (rows.length > 0) return rows[0];
    // Another instance inserted it after this statement's snapshot was taken: read it in a new one.
    const [again] = await this.db.query(`SELECT arm FROM experiment_assignments WHERE experiment_id = $1 AND customer_id = $2`, [
      experimentId,
      customerId,
    ]);
    return again ? { arm: again.arm, created: false } : null;
  }

  async armCounts(experimentId: string): Promise<ArmCounts[]> {
    const rows: Array<Record<keyof ArmCounts, string>> = await this.db.query(
      `SELECT arm, count(*) AS assigned,
              count(*) FILTER (WHERE messaged) AS messaged,
              count(*) FILTER (WHERE clicked) AS clicked,
              count(*) FILTER (WHERE converted) AS converted
         FROM experiment_assignment_outcomes
        WHERE experiment_id = $1
        GROUP BY arm`,
      [experimentId],
    );
    return rows.map((row) => ({
      arm: row.arm,
      assigned: Number(row.assigned),
      messaged: Number(row.messaged),
      clicked: Number(row.clicked),
      converted: Number(row.converted),
    }));
  }

  /** Assigned and converted customers per arm of every running experiment, for the metrics scrape. */
  async runningArmCounts(): Promise<Array<{ key: string; arm: string; assigned: number; converted: number }>> {
    const rows: Array<{ key: string; arm: string; assigned: string; converted: string }> = await this.db.query(
      `SELECT e.key, o.arm, count(*) AS assigned, count(*) FILTER (WHERE o.converted) AS converted
         FROM experiment_assignment_outcomes o
         JOIN experiments e ON e.id = o.experiment_id
        WHERE e.stopped_at IS NULL
        GROUP BY e.key, o.arm`,
    );
    return rows.map((row) => ({ key: row.key, arm: row.arm, assigned: Number(row.assigned), converted: Number(row.converted) }));
  }
}
