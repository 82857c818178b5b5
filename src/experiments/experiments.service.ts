import { Injectable } from '@nestjs/common';
import { ExperimentSplit } from '../delivery/delivery-fan-out';
import { Offer } from '../messaging/message-content';
import { Channel } from '../messaging/message.types';
import { DeliveryRequest } from '../messaging/reminder-delivery';
import { OfferService } from '../smartengage/offer.service';
import {
  CreateExperimentDto,
  ExperimentListDto,
  ExperimentResponseDto,
  ExperimentResultsDto,
  VariantDto,
} from './dto/experiment.dto';
import { armOf, bucketOf, HOLDOUT } from './experiment-hash';
import { experimentResults } from './experiment-results';
import { ExperimentEntity, VariantDefinition } from './experiment.entity';
import { experimentExists, experimentNotFound, experimentStopped, invalidExperimentField } from './experiment.exceptions';
import { ExperimentRepository } from './experiment.repository';

/** Experiments: their definitions, the split of a send that names one, and their results. */
@Injectable()
export class ExperimentsService {
  constructor(
    private readonly experiments: ExperimentRepository,
    private readonly offers: OfferService,
  ) {}

  async create(dto: CreateExperimentDto): Promise<ExperimentResponseDto> {
    const variants = await this.validVariants(dto.variants);
    const created = await this.experiments.create({
      key: dto.key,
      description: dto.description ?? null,
      holdoutPercent: dto.holdout_percent,
      variants,
      attributionDays: dto.attribution_days ?? 7,
      channel: dto.channel === undefined ? null : dto.channel === 'SMS' ? Channel.Sms : Channel.Email,
    });
    if (!created) throw experimentExists(dto.key);
    return toResponse(created);
  }

  async list(): Promise<ExperimentListDto> {
    return { experiments: (await this.experiments.findAll()).map(toResponse) };
  }

  async get(key: string): Promise<ExperimentResponseDto> {
    return toResponse(await this.find(key));
  }

  /** No new assignments afterwards; assignments made keep their arm and results stay. */
  async stop(key: string): Promise<ExperimentResponseDto> {
    const stopped = await this.experiments.stop(key);
    if (!stopped) throw experimentNotFound(key);
    return toResponse(stopped);
  }

  async results(key: string): Promise<ExperimentResultsDto> {
    const experiment = await this.find(key);
    const counts = await this.experiments.armCounts(experiment.id);
    return {
      key: experiment.key,
      status: experiment.stoppedAt ? 'stopped' : 'running',
      attribution_days: experiment.attributionDays,
      ...experimentResults({ holdoutPercent: experiment.holdoutPercent, variants: experiment.variants, counts }),
    };
  }

  /**
   * The split a send (run-segment, send-bulk) applies to each customer it would message: checked here, before
   * anything is sent, so an unknown or stopped experiment answers 404 or 409 and nobody is messaged.
   * `allowStopped`: a resumed campaign run keeps the experiment it started with.
   */
  async split(key: string, channel: Channel, { allowStopped = false } = {}): Promise<ExperimentSplit> {
    const experiment = await this.find(key);
    if (experiment.stoppedAt && !allowStopped) throw experimentStopped(key);
    if (experiment.channel && experiment.channel !== channel) {
      throw invalidExperimentField('experiment', `experiment ${key} is for ${experiment.channel} sends; this send is ${channel}`);
    }
    const variantOffers = new Map<string, Offer | null>();
    for (const variant of experiment.variants) {
      if (variant.promoCode === undefined) continue;
      const offer = variant.promoCode === null ? null : await this.offers.findActive(variant.promoCode);
      if (variant.promoCode !== null && !offer) {
        throw invalidExperimentField('experiment', `experiment ${key}: variant ${variant.name}'s promo code ${variant.promoCode} is no longer active`);
      }
      variantOffers.set(variant.name, offer);
    }
    return { apply: (request) => this.apply(experiment, variantOffers, request) };
  }

  /** The customer's arm, recorded the first time: null for the holdout, else the request with the arm's overrides. */
  private async apply(
    experiment: ExperimentEntity,
    variantOffers: Map<string, Offer | null>,
    request: DeliveryRequest,
  ): Promise<DeliveryRequest | null> {
    const bucket = bucketOf(experiment.key, request.customer.id);
    const arm = armOf(bucket, experiment.holdoutPercent, experiment.variants);
    const assigned = await this.experiments.assign(experiment.id, request.customer.id, arm, bucket);
    if (!assigned) return request; // stopped before this customer was ever assigned: an ordinary send
    if (assigned.arm === HOLDOUT) return null;
    const variant = experiment.variants.find((v) => v.name === assigned.arm);
    if (!variant) return request;
    return {
      ...request,
      offer: variantOffers.has(variant.name) ? variantOffers.get(variant.name)! : request.offer,
      tone: variant.tone ?? request.tone,
      generator: variant.generator ?? request.generator,
    };
  }

  private async find(key: string): Promise<ExperimentEntity> {
    const experiment = await this.experiments.findByKey(key);
    if (!experiment) throw experimentNotFound(key);
    return experiment;
  }

  private async validVariants(variants: VariantDto[]): Promise<VariantDefinition[]> {
    const seen = new Set<string>();
    const valid: VariantDefinition[] = [];
    for (const [i, variant] of variants.entries()) {
      const field = `variants.${i}`;
      if (variant.name === HOLDOUT) throw invalidExperimentField(`${field}.name`, `${field}.name must not be holdout: that arm is the experiment's own`);
      if (seen.has(variant.name)) throw invalidExperimentField(`${field}.name`, `${field}.name ${variant.name} is used by another variant`);
      seen.add(variant.name);
      if (variant.promo_code && !(await this.offers.findActive(variant.promo_code))) {
        throw invalidExperimentField(`${field}.promo_code`, `${field}.promo_code ${variant.promo_code} is not an active promo code`);
      }
      valid.push({
        name: variant.name,
        weight: variant.weight,
        ...(variant.generator ? { generator: variant.generator } : {}),
        ...(variant.promo_code !== undefined ? { promoCode: variant.promo_code } : {}),
        ...(variant.tone ? { tone: variant.tone } : {}),
      });
    }
    return valid;
  }
}

function toResponse(experiment: ExperimentEntity): ExperimentResponseDto {
  return {
    key: experiment.key,
    description: experiment.description,
    holdout_percent: experiment.holdoutPercent,
    variants: experiment.variants.map((v) => ({
      name: v.name,
      weight: v.weight,
      ...(v.generator ? { generator: v.generator } : {}),
      ...(v.promoCode !== undefined ? { promo_code: v.promoCode } : {}),
      ...(v.tone ? { tone: v.tone } : {}),
    })),
    attribution_days: experiment.attributionDays,
    channel: experiment.channel,
    status: experiment.stoppedAt ? 'stopped' : 'running',
    created_at: experiment.createdAt.toISOString(),
    stopped_at: experiment.stoppedAt?.toISOString() ?? null,
  };
}
