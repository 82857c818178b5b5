import { AppException, ErrorCode } from '../common/app.exception';
import { SkipReason } from '../messaging/reminder-delivery';

/** Why send-single sent nothing to a customer, as the error it answers with. */
const SKIP_ERRORS: Record<SkipReason, { code: ErrorCode; message: (id: string) => string }> = {
  [SkipReason.OptedOut]: { code: ErrorCode.CustomerOptedOut, message: (id) => `customer ${id} has opted out of messages` },
  [SkipReason.FrequencyCapped]: {
    code: ErrorCode.FrequencyCapped,
    message: (id) => `customer ${id} has reached the frequency cap; try again later`,
  },
  [SkipReason.CustomerNotFound]: { code: ErrorCode.CustomerNotFound, message: (id) => `customer ${id} does not exist` },
  [SkipReason.NoEmailAddress]: { code: ErrorCode.NoEmailAddress, message: (id) => `customer ${id} has no email address` },
  [SkipReason.NoPhoneNumber]: { code: ErrorCode.NoPhoneNumber, message: (id) => `customer ${id} has no phone number` },
  [SkipReason.InvalidEmailAddress]: {
    code: ErrorCode.InvalidEmailAddress,
    message: (id) => `customer ${id} has an email address that is not exactly one valid address; nothing was sent`,
  },
  [SkipReason.InvalidPhoneNumber]: {
    code: ErrorCode.InvalidPhoneNumber,
    message: (id) => `customer ${id} has a phone number that is not one E.164 number (+ and 7-15 digits); nothing was sent`,
  },
  [SkipReason.SmsQuietHours]: {
    code: ErrorCode.SmsQuietHours,
    message: () => 'no promotional SMS are sent during the quiet hours (00:00-08:00 local by default); try later',
  },
  [SkipReason.NoBookingHistory]: {
    code: ErrorCode.NoServiceForCustomer,
    message: (id) => `customer ${id} has no bookings to remind them of`,
  },
  [SkipReason.AlreadyMessagedToday]: {
    code: ErrorCode.FrequencyCapped,
    message: (id) => `customer ${id} was already messaged by today's campaign`,
  },
  [SkipReason.NotDue]: { code: ErrorCode.FrequencyCapped, message: (id) => `customer ${id} booked too recently` },
  [SkipReason.ShuttingDown]: {
    code: ErrorCode.ShuttingDown,
    message: (id) => `the service is shutting down; nothing was sent to customer ${id}, try again`,
  },
};

export function customerSkipped(customerId: string, reason: SkipReason): AppException {
  const { code, message } = SKIP_ERRORS[reason];
  return new AppException(code, message(customerId));
}

export function customerNotFound(customerId: string): AppException {
  return new AppException(ErrorCode.CustomerNotFound, `customer ${customerId} does not exist`);
}

export function messageNotFound(messageId: string): AppException {
  return new AppException(ErrorCode.MessageNotFound, `message ${messageId} does not exist`);
}

export function serviceNotFound(serviceId: string): AppException {
  return new AppException(ErrorCode.ServiceNotFound, `service ${serviceId} does not exist`);
}

export function noServiceForCustomer(customerId: string | undefined): AppException {
  return new AppException(
    ErrorCode.NoServiceForCustomer,
    `customer ${customerId} has no bookings; pass service_id to say which service to remind them of`,
  );
}

/** The message was written but not sent: the safety filter refused it, or the channel failed. */
export function messageNotSent(messageId: string, reason: string): AppException {
  const code = reason === 'safety_rejected' ? ErrorCode.MessageRejected : ErrorCode.DeliveryFailed;
  return new AppException(code, `message ${messageId} could not be sent: ${reason}`);
}

export function unknownPromoCode(promoCode: string): AppException {
  return new AppException(ErrorCode.UnknownPromoCode, `promo_code ${promoCode} is not an active promo code`, [
    { field: 'promo_code', message: `${promoCode} is not an active promo code` },
  ]);
}

/** The unsubscribe link's token is forged or malformed. */
export function invalidUnsubscribeLink(): AppException {
  return new AppException(ErrorCode.InvalidUnsubscribeToken, 'this unsubscribe link is not valid');
}

export function unsubscribeLinkOfNoCustomer(): AppException {
  return new AppException(ErrorCode.CustomerNotFound, 'this unsubscribe link belongs to no customer');
}

/** The SMS webhook's signature is missing or wrong, or its timestamp too far off. */
export function invalidSignature(message: string): AppException {
  return new AppException(ErrorCode.Unauthorized, message);
}

/** Without SMS_INBOUND_SECRET the SMS webhook answers as a route that does not exist. */
export function webhookDisabled(method: string, path: string): AppException {
  return new AppException(ErrorCode.NotFound, `Cannot ${method} ${path}`);
}
