import { ArgumentsHost, Logger, NotFoundException } from '@nestjs/common';
import { AllExceptionsFilter } from './all-exceptions.filter';
import { AppException, ErrorCode } from './app.exception';

/** Runs the filter on `exception` for a request that already has a correlation id; answers status and body. */
function answer(exception: unknown): { status: number; body: Record<string, unknown> } {
  const sent: { status: number; body: Record<string, unknown> } = { status: 0, body: {} };
  const response = {
    status: (status: number) => ((sent.status = status), response),
    type: () => response,
    json: (body: Record<string, unknown>) => ((sent.body = body), response),
  };
  const request = { id: 'req-12345678', headers: {}, header: () => undefined };
  const host = { switchToHttp: () => ({ getResponse: () => response, getRequest: () => request }) } as unknown as ArgumentsHost;
  new AllExceptionsFilter().catch(exception, host);
  return sent;
}

describe(AllExceptionsFilter.name, () => {
  beforeAll(() => jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined));
  afterAll(() => jest.restoreAllMocks());

  it.each([
    [ErrorCode.UnknownPromoCode, 400],
    [ErrorCode.InvalidToken, 401],
    [ErrorCode.InsufficientScope, 403],
    [ErrorCode.RunNotFound, 404],
    [ErrorCode.FrequencyCapped, 409],
    [ErrorCode.MessageRejected, 422],
    [ErrorCode.DeliveryFailed, 502],
    [ErrorCode.ShuttingDown, 503],
  ])('answers a module exception with code %s with the status the table gives it (%i)', (code, status) => {
    const { status: sent, body } = answer(new AppException(code, 'what happened'));
    expect(sent).toBe(status);
    expect(body).toEqual({ statusCode: status, code, message: 'what happened', correlationId: 'req-12345678' });
  });

  it('answers a bad unsubscribe token as 400 INVALID_TOKEN, as the API has always said', () => {
    const { status, body } = answer(new AppException(ErrorCode.InvalidUnsubscribeToken, 'this unsubscribe link is not valid'));
    expect(status).toBe(400);
    expect(body).toMatchObject({ statusCode: 400, code: 'INVALID_TOKEN' });
  });

  it("keeps a module exception's field errors, and a 500's message", () => {
    const errors = [{ field: 'promo_code', message: 'X is not an active promo code' }];
    expect(answer(new AppException(ErrorCode.UnknownPromoCode, 'bad', errors)).body.errors).toEqual(errors);
    expect(answer(new AppException(ErrorCode.CampaignFailed, 'run r1 failed; run it again')).body).toMatchObject({
      statusCode: 500,
      message: 'run r1 failed; run it again',
    });
  });

  it("names Nest's own exceptions by their status and hides anything else behind a generic 500", () => {
    expect(answer(new NotFoundException('Cannot GET /nope')).body).toMatchObject({ statusCode: 404, code: 'NOT_FOUND' });
    expect(answer(new Error('password=hunter2 in a stack')).body).toEqual({
      statusCode: 500,
      code: 'INTERNAL_ERROR',
      message: 'internal server error',
      correlationId: 'req-12345678',
    });
  });
});
