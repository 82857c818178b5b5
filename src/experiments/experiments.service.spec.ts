import { AppException } from '../common/app.exception';
import { Channel, GeneratorKind, MessageType, Tone } from '../messaging/message.types';
import { DeliveryRequest } from '../messaging/reminder-delivery';
import { OfferService } from '../smartengage/offer.service';
import { armOf, bucketOf } from './experiment-hash';
import { ExperimentEntity } from './experiment.entity';
import { ExperimentRepository } from './experiment.repository';
import { ExperimentsService } from './experiments.service';

const VARIANTS = [
  { name: 'offer', weight: 1, promoCode: 'VIP20' },
  { name: 'plain', weight: 1, promoCode: null, tone: Tone.Premium, generator: GeneratorKind.Template },
];
const experiment = (over: Partial<ExperimentEntity> = {}): ExperimentEntity => ({
  id: 'e1',
  key: 'worth-it',
  description: null,
  holdoutPercent: 30,
  variants: VARIANTS,
  attributionDays: 7,
  channel: null,
  createdAt: new Date('2026-12-01T00:00:00Z'),
  stoppedAt: null,
  ...over,
});
const request = (customerId: string): DeliveryRequest =>
  ({
    customer: { id: customerId },
    channel: Channel.Email,
    messageType: MessageType.Reminder,
    offer: { promoCode: 'DEMO15', discountPercent: 15 },
  }) as DeliveryRequest;

/** Customer ids that land in each arm of `worth-it`. */
function customerIn(arm: string): string {
  for (let i = 0; ; i++) {
    const id = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    if (armOf(bucketOf('worth-it', id), 30, VARIANTS) === arm) return id;
  }
}

function newTestService(row: ExperimentEntity | null = experiment()) {
  const repository: jest.Mocked<Pick<ExperimentRepository, 'findByKey' | 'assign'>> = {
    findByKey: jest.fn().mockResolvedValue(row),
    assign: jest.fn(async (_id: string, _customer: string, arm: string, _bucket: number): Promise<{ arm: string; created: boolean } | null> => ({ arm, created: true })),
  };
  const offers: jest.Mocked<Pick<OfferService, 'findActive'>> = {
    findActive: jest.fn(async (code: string) => (code === 'VIP20' ? { promoCode: 'VIP20', discountPercent: 20 } : null)),
  };
  const sut = new ExperimentsService(repository as unknown as ExperimentRepository, offers as unknown as OfferService);
  return { sut, mocks: { repository, offers } };
}

describe(ExperimentsService.name, () => {
  it('holds the holdout out and gives each variant its overrides, recording the hashed arm', async () => {
    const { sut, mocks } = newTestService();
    const split = await sut.split('worth-it', Channel.Email);

    const held = customerIn('holdout');
    expect(await split.apply(request(held))).toBeNull();
    expect(mocks.repository.assign).toHaveBeenCalledWith('e1', held, 'holdout', bucketOf('worth-it', held));

    const offer = await split.apply(request(customerIn('offer')));
    expect(offer).toMatchObject({ offer: { promoCode: 'VIP20', discountPercent: 20 } });
    expect(offer!.tone).toBeUndefined();

    const plain = await split.apply(request(customerIn('plain')));
    expect(plain).toMatchObject({ offer: null, tone: Tone.Premium, generator: GeneratorKind.Template });
  });

  it('keeps the arm recorded earlier, and sends as usual to a customer never assigned once it is stopped', async () => {
    const { sut, mocks } = newTestService();
    const split = await sut.split('worth-it', Channel.Email);
    mocks.repository.assign.mockResolvedValueOnce({ arm: 'holdout', created: false });
    expect(await split.apply(request(customerIn('offer')))).toBeNull();
    mocks.repository.assign.mockResolvedValueOnce(null);
    const unassigned = request(customerIn('plain'));
    expect(await split.apply(unassigned)).toBe(unassigned);
  });

  it('refuses an unknown experiment (404), a stopped one (409) unless resuming, and another channel (400)', async () => {
    await expect(newTestService(null).sut.split('nope', Channel.Email)).rejects.toMatchObject({ code: 'EXPERIMENT_NOT_FOUND' });
    const stopped = newTestService(experiment({ stoppedAt: new Date() })).sut;
    await expect(stopped.split('worth-it', Channel.Email)).rejects.toMatchObject({ code: 'EXPERIMENT_STOPPED' });
    await expect(stopped.split('worth-it', Channel.Email, { allowStopped: true })).resolves.toBeDefined();
    const sms = newTestService(experiment({ channel: Channel.Sms })).sut;
    const error = await sms.split('worth-it', Channel.Email).catch((e: AppException) => e);
    expect(error).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ field: 'experiment' }] });
  });

  it('refuses a split whose variant promo code is no longer active', async () => {
    const { sut, mocks } = newTestService();
    mocks.offers.findActive.mockResolvedValue(null);
    await expect(sut.split('worth-it', Channel.Email)).rejects.toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ field: 'experiment' }] });
  });
});
